import { api } from '../api';
import { dateTime, h, show } from '../dom';
import type { Page } from '../router';
import { act, announce, requireAdmin, showError } from '../ui';
import { adminHeading, dataTable, section, tableRow } from './nav';

/**
 * The service registry as an admin sees it: each service, how many of its instances are healthy, and
 * every instance (healthy or not) with its URL and last heartbeat. Read-only; "Refresh" reloads it.
 */

interface ServiceSummary {
  name: string;
  instances: number;
  healthy: number;
}

interface Instance {
  instanceId: string;
  service: string;
  attributes: { url: string } & Record<string, string>;
  health: 'HEALTHY' | 'UNHEALTHY';
  lastHeartbeatAt: string;
}

/** "12 s ago": heartbeats come seconds apart, finer than dateTime() shows. */
function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

async function serviceSection(service: ServiceSummary): Promise<HTMLElement> {
  const { items } = await api<{ items: Instance[] }>('GET', `/registry/services/${encodeURIComponent(service.name)}/instances?health=ALL`);
  const { table, body } = dataTable(`${service.name} instances`, ['Instance', 'URL', 'Health', 'Last heartbeat']);
  body.append(
    ...items.map((instance) =>
      tableRow(
        instance.instanceId,
        instance.attributes.url,
        h('span', { class: `badge health-${instance.health.toLowerCase()}` }, instance.health),
        `${dateTime(instance.lastHeartbeatAt)} (${ago(instance.lastHeartbeatAt)})`,
      ),
    ),
  );
  return section(service.name, h('p', {}, `${service.healthy} healthy of ${service.instances}`), items.length > 0 ? table : h('p', {}, 'No instances are registered.'));
}

async function loadServices(container: HTMLElement): Promise<void> {
  const { items } = await api<{ items: ServiceSummary[] }>('GET', '/registry/services');
  const services = [...items].sort((a, b) => a.name.localeCompare(b.name));
  const sections = await Promise.all(services.map(serviceSection));
  show(container, sections.length > 0 ? sections : h('p', {}, 'No services are registered.'));
}

export const adminRegistryPage: Page = async (main) => {
  if (!requireAdmin(main)) return;
  adminHeading(main, 'Admin: registry');
  const services = h('div', { class: 'services' });
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  refresh.addEventListener('click', () =>
    void act(refresh, async () => {
      await loadServices(services);
      announce('The registry is refreshed.');
    }),
  );
  main.append(h('p', {}, 'Services register their instances and send heartbeats; an instance that stops sending them turns UNHEALTHY.'), refresh, services);
  await loadServices(services).catch(showError);
};
