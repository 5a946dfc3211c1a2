/**
 * Stripe's own card element, used instead of the test-card choice when the page carries a publishable
 * key: functions/web/handler.ts writes `<meta name="stripe-publishable-key" content="pk_…"
 * data-script="…/v3">` into the page when STRIPE_PUBLISHABLE_KEY is set, and only then lets the
 * Content-Security-Policy load Stripe.js and its frames. The script's address comes from that tag,
 * so nothing in the app's own files names another host (tests/web/budget.test.ts). The card data stays
 * in Stripe's frame; the page gets a PaymentMethod id (`pm_…`) to send to the confirm.
 *
 * UNTESTED: the tests run without internet, so Stripe.js is never loaded there (docs/web.md).
 */
import { UserError } from './errors';

interface StripeError {
  message?: string;
}
interface CardElement {
  mount(target: HTMLElement): void;
  destroy(): void;
  on(event: 'change', handler: (event: { error?: StripeError }) => void): void;
}
interface StripeJs {
  elements(): { create(type: 'card', options?: object): CardElement };
  createPaymentMethod(options: { type: 'card'; card: CardElement; billing_details?: object }): Promise<{ paymentMethod?: { id: string }; error?: StripeError }>;
}
type StripeFactory = (publishableKey: string) => StripeJs;

export interface StripeConfig {
  publishableKey: string;
  script: string;
}

/** The key and script the page was served with, or undefined (the local test cards are offered then). */
export function stripeConfig(): StripeConfig | undefined {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="stripe-publishable-key"]');
  const publishableKey = meta?.content;
  const script = meta?.dataset.script;
  return publishableKey && script ? { publishableKey, script } : undefined;
}

let loading: Promise<StripeFactory> | undefined;

function loadStripeJs(src: string): Promise<StripeFactory> {
  loading ??= new Promise<StripeFactory>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.addEventListener('load', () => {
      const factory = (window as unknown as { Stripe?: StripeFactory }).Stripe;
      if (factory) resolve(factory);
      else reject(new Error('Stripe.js loaded without defining Stripe'));
    });
    script.addEventListener('error', () => {
      loading = undefined;
      reject(new Error('Stripe.js could not be loaded'));
    });
    document.head.append(script);
  });
  return loading;
}

export interface CardForm {
  /** A PaymentMethod for the card typed in, as its `pm_…` id. */
  paymentMethod(billing: { name: string; email: string }): Promise<string>;
  destroy(): void;
}

/** Mounts Stripe's card element in `target`; `onError` gets the element's own messages (or '' when fixed). */
export async function mountCard(config: StripeConfig, target: HTMLElement, onError: (message: string) => void): Promise<CardForm> {
  const stripe = (await loadStripeJs(config.script))(config.publishableKey);
  const card = stripe.elements().create('card', { hidePostalCode: true });
  card.on('change', (event) => onError(event.error?.message ?? ''));
  card.mount(target);
  return {
    async paymentMethod(billing) {
      const { paymentMethod, error } = await stripe.createPaymentMethod({ type: 'card', card, billing_details: billing });
      if (!paymentMethod) throw new UserError(error?.message ?? 'The card details are not complete.');
      return paymentMethod.id;
    },
    destroy: () => card.destroy(),
  };
}
