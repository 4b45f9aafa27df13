import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DEFAULT_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  deviceStates,
  type Device,
  type DevicePage,
} from '../../inventory/index.js';
import { asLocalUser, type OpenRuntime } from '../runtime.js';
import { formatTable } from '../format.js';

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return limit;
}

function describePage(page: DevicePage): string {
  if (page.items.length === 0) {
    return 'no devices match';
  }
  const table = formatTable(
    ['ID', 'MANUFACTURER', 'MODEL', 'SERIAL', 'STATE', 'SEGMENT', 'CRITICALITY'],
    page.items.map((device) => [
      device.id,
      device.manufacturer,
      device.model,
      device.serialNumber,
      device.state,
      device.segment ?? '-',
      device.lifeSustaining ? `${device.criticality} (life-sustaining)` : device.criticality,
    ]),
  );
  return page.nextCursor === null
    ? table
    : `${table}\n\nmore devices follow: repeat with --cursor ${page.nextCursor}`;
}

function describeDevice(device: Device): string {
  const lines: [string, string][] = [
    ['id', device.id],
    ['manufacturer', device.manufacturer],
    ['model', device.model],
    ['serial number', device.serialNumber],
    ['UDI-DI', device.udiDeviceIdentifier ?? '-'],
    ['UDI-PI', device.udiProductionIdentifier ?? '-'],
    ['system id (EUI-64)', device.systemId ?? '-'],
    ['MAC addresses', device.macAddresses.join(', ') || '-'],
    ['certificate SHA-256', device.certificateFingerprint ?? '-'],
    ['state', device.state],
    ['segment', device.segment ?? '-'],
    ['classification', device.classification],
    ['life-sustaining', device.lifeSustaining ? 'yes' : 'no'],
    ['criticality', device.criticality],
    ['firmware', device.firmwareVersion ?? '-'],
    ['location', device.location ?? '-'],
    ['owner', device.owner ?? '-'],
    ['version', String(device.version)],
    ['created', device.createdAt],
    ['updated', device.updatedAt],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  const components = device.softwareComponents.map(
    (component) =>
      `  ${component.name} ${component.version}${component.purl === undefined ? '' : ` ${component.purl}`}`,
  );
  return [
    ...lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
    `software components (${components.length})`,
    ...components,
  ].join('\n');
}

/** `medward devices`: reads the device inventory in the configured database. */
export function devicesCommand(openRuntime: OpenRuntime): Command {
  const devices = new Command('devices').description('read the device inventory');

  devices
    .command('list')
    .description('list devices, oldest first, one page at a time')
    .addOption(
      new Option('--state <state>', 'only devices in this lifecycle state').choices(deviceStates),
    )
    .option('--segment <segment>', 'only devices in this network segment')
    .option(
      '--limit <count>',
      `devices per page, 1 to ${MAX_PAGE_LIMIT} (default: ${DEFAULT_PAGE_LIMIT})`,
      parseLimit,
    )
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .option('--json', 'print the page as JSON: { items, nextCursor }')
    .action(
      async (options: {
        state?: Device['state'];
        segment?: string;
        limit?: number;
        cursor?: string;
        json?: boolean;
      }) => {
        const runtime = await openRuntime({ json: options.json });
        try {
          const page = await asLocalUser(() =>
            runtime.inventory.list({
              ...(options.state === undefined ? {} : { state: options.state }),
              ...(options.segment === undefined ? {} : { segment: options.segment }),
              ...(options.limit === undefined ? {} : { limit: options.limit }),
              ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
            }),
          );
          runtime.print(page, () => describePage(page));
        } finally {
          await runtime.close();
        }
      },
    );

  devices
    .command('show')
    .description('show every stored field of one device')
    .argument('<id>', 'device id (UUID)')
    .option('--json', 'print the device as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const runtime = await openRuntime({ json: options.json });
      try {
        const device = await asLocalUser(() => runtime.inventory.get(id));
        runtime.print(device, () => describeDevice(device));
      } finally {
        await runtime.close();
      }
    });

  return devices;
}
