import type { Logger } from './logger.js';

/**
 * Anything that starts must stop. Components are started in registration
 * order and stopped in reverse, so a component may rely on everything
 * registered before it during both start and stop.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /** Drains in-flight work, then releases resources. Must be safe to call once after start. */
  stop(): Promise<void>;
}

export class Lifecycle {
  private readonly components: Component[] = [];
  private readonly started: Component[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add<T extends Component>(component: T): T {
    this.components.push(component);
    return component;
  }

  async start(): Promise<void> {
    for (const component of this.components) {
      const startedAt = performance.now();
      try {
        await component.start();
      } catch (error) {
        this.logger.error({ component: component.name, err: error }, 'component failed to start');
        await this.stop();
        throw error;
      }
      this.started.push(component);
      this.logger.info(
        { component: component.name, durationMs: Math.round(performance.now() - startedAt) },
        'component started',
      );
    }
  }

  /** Stops started components in reverse order; errors are logged and the rest still stop. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    while (this.started.length > 0) {
      const component = this.started.pop();
      if (component === undefined) {
        break;
      }
      try {
        await component.stop();
        this.logger.info({ component: component.name }, 'component stopped');
      } catch (error) {
        this.logger.error({ component: component.name, err: error }, 'component failed to stop');
      }
    }
  }
}
