import { h } from './dom';
import { UserError } from './errors';

/**
 * Form fields that say what is wrong beside themselves (checkout, the account pages): a label, an
 * optional hint and an error, the hint and error tied to the input by aria-describedby, the input
 * marked aria-invalid while it has an error. FormCheck runs a form's own checks before anything is
 * sent: each problem beside its field, focus on the first, one sentence for the alert region.
 */

let inputs = 0;

export class Field {
  readonly element: HTMLElement;
  private readonly error: HTMLElement;

  constructor(
    readonly input: HTMLInputElement,
    label: (string | Node)[] | string,
    private readonly hint?: string,
  ) {
    inputs += 1;
    input.id = `input-${inputs}`;
    this.error = h('p', { class: 'field-error', id: `${input.id}-error`, hidden: true });
    const hintElement = hint ? h('small', { id: `${input.id}-hint` }, hint) : undefined;
    this.element = h('div', { class: 'field' }, h('label', { for: input.id }, label), hintElement, input, this.error);
    this.setError(undefined);
  }

  get value(): string {
    return this.input.value.trim();
  }

  setError(message: string | undefined): void {
    this.error.hidden = !message;
    this.error.textContent = message ?? '';
    const described = [this.hint && `${this.input.id}-hint`, message && this.error.id].filter(Boolean).join(' ');
    if (described) this.input.setAttribute('aria-describedby', described);
    else this.input.removeAttribute('aria-describedby');
    if (message) this.input.setAttribute('aria-invalid', 'true');
    else this.input.removeAttribute('aria-invalid');
  }
}

export class FormCheck {
  private readonly invalid: HTMLElement[] = [];

  /** Shows the field's problem, or clears an earlier one. */
  check(field: Field, problem: string | undefined): void {
    field.setError(problem);
    if (problem) this.invalid.push(field.input);
  }

  /** A control whose problem the form shows by itself (the checkout's card choice). */
  flag(control: HTMLElement): void {
    this.invalid.push(control);
  }

  /** Throws the form's sentence, with focus on the first field at fault, when any needs attention. */
  done(): void {
    if (this.invalid.length === 0) return;
    this.invalid[0]!.focus();
    throw new UserError(this.invalid.length === 1 ? 'Please check the form: one field needs your attention.' : `Please check the form: ${this.invalid.length} fields need your attention.`);
  }
}

export function emailProblem(field: Field): string | undefined {
  if (!field.value) return 'Enter an email address.';
  return !field.input.checkValidity() || !field.value.includes('@') ? 'Enter an email address like name@example.com.' : undefined;
}

/** The API's rule for a new password (API.md: 8–128 characters); spaces count, so it is not trimmed. */
export function newPasswordProblem(value: string): string | undefined {
  if (!value) return 'Enter a new password.';
  if (value.length < 8) return 'Use at least 8 characters.';
  return value.length > 128 ? 'Use at most 128 characters.' : undefined;
}
