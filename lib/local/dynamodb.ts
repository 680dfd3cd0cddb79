import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { freePort } from './ports.js';

export interface LocalDynamoDbOptions {
  /**
   * LevelDB folder for the tables; in memory when absent (fine up to a few million items).
   * @default in memory
   */
  readonly path?: string;
}

/**
 * A real DynamoDB implementation (dynalite, on LevelDB) running in this process on a loopback port,
 * spoken to with the ordinary AWS SDK client.
 */
export class LocalDynamoDb {
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(options: LocalDynamoDbOptions = {}): Promise<LocalDynamoDb> {
    const server = dynalite({
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
      ...(options.path !== undefined ? { path: options.path } : {}),
    });
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new LocalDynamoDb(server, `http://127.0.0.1:${port}`);
  }

  /** An SDK client for this server; credentials are placeholders that dynalite ignores. */
  client(): DynamoDBClient {
    return new DynamoDBClient({
      endpoint: this.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 5,
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
