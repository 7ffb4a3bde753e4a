import type { DataSource } from 'typeorm';
import { handleCandidates, normalizeHandle } from '../handles.js';
import { sql, type Timed } from './support.js';

export interface Mapping {
  network: string;
  /** The network's own id, case preserved. */
  networkId: string;
  /** Lowercase, JID-safe, unique per network. */
  handle: string;
  name: string | null;
  createdAt: Date;
}

const COLUMNS = `network, network_id AS "networkId", handle, name, created_at AS "createdAt"`;

/**
 * Handles for one kind of network id (rooms or contacts): see ../handles.ts
 * for how they are chosen. One instance per table.
 */
export class MappingsRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly time: Timed,
    private readonly table: 'room_mappings' | 'contact_mappings',
    /** Operation prefix in metrics: 'rooms' or 'contacts'. */
    private readonly kind: string,
  ) {}

  /**
   * The handle of `networkId` on `network`, created if it has none. Race-safe:
   * concurrent calls for one id (in one process or several) get the same
   * handle (INSERT ... ON CONFLICT DO NOTHING, then read the winner). With
   * `name`, the mapping's display name is set too.
   */
  async handleFor(network: string, networkId: string, options: { name?: string | null } = {}): Promise<string> {
    checkKey(network, networkId);
    return this.time(`${this.kind}.handleFor`, async () => {
      const existing = await this.byNetworkId(network, networkId);
      if (existing) {
        if (options.name !== undefined && options.name !== existing.name) {
          await this.writeName(network, networkId, options.name);
        }
        return existing.handle;
      }
      for (const candidate of handleCandidates(networkId)) {
        const { rows } = await sql<{ handle: string }>(
          this.dataSource,
          `INSERT INTO ${this.table} (network, network_id, handle, name) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING handle`,
          [network, networkId, candidate, options.name ?? null],
        );
        if (rows[0]) return rows[0].handle;
        // Either a concurrent call mapped this id first (take its handle), or
        // the candidate belongs to another id (try the next, longer one).
        const winner = await this.byNetworkId(network, networkId);
        if (winner) {
          if (options.name !== undefined && options.name !== winner.name) {
            await this.writeName(network, networkId, options.name);
          }
          return winner.handle;
        }
      }
      throw new Error(`no free handle for ${networkId} on ${network}: every candidate is taken`);
    });
  }

  /** The network id behind a handle (matched case-insensitively), or null. */
  async networkIdFor(network: string, handle: string): Promise<string | null> {
    return this.time(`${this.kind}.networkIdFor`, async () => (await this.byHandle(network, handle))?.networkId ?? null);
  }

  /** The whole mapping for a handle (case-insensitive), or null. */
  async find(network: string, handle: string): Promise<Mapping | null> {
    return this.time(`${this.kind}.find`, () => this.byHandle(network, handle));
  }

  /** The mapping of a network id, or null; never creates one. */
  async findByNetworkId(network: string, networkId: string): Promise<Mapping | null> {
    return this.time(`${this.kind}.findByNetworkId`, () => this.byNetworkId(network, networkId));
  }

  /** Sets the display name of an existing mapping; false if the id has no mapping. */
  async setName(network: string, networkId: string, name: string | null): Promise<boolean> {
    return this.time(`${this.kind}.setName`, () => this.writeName(network, networkId, name));
  }

  private async byNetworkId(network: string, networkId: string): Promise<Mapping | null> {
    const { rows } = await sql<Mapping>(
      this.dataSource,
      `SELECT ${COLUMNS} FROM ${this.table} WHERE network = $1 AND network_id = $2`,
      [network, networkId],
      { prepare: true },
    );
    return rows[0] ?? null;
  }

  private async byHandle(network: string, handle: string): Promise<Mapping | null> {
    const normalized = normalizeHandle(handle);
    if (normalized === null) return null;
    const { rows } = await sql<Mapping>(
      this.dataSource,
      `SELECT ${COLUMNS} FROM ${this.table} WHERE network = $1 AND handle = $2`,
      [network, normalized],
      { prepare: true },
    );
    return rows[0] ?? null;
  }

  private async writeName(network: string, networkId: string, name: string | null): Promise<boolean> {
    const { affected } = await sql(
      this.dataSource,
      `UPDATE ${this.table} SET name = $3 WHERE network = $1 AND network_id = $2`,
      [network, networkId, name],
    );
    return affected > 0;
  }
}

function checkKey(network: string, networkId: string): void {
  if (typeof network !== 'string' || network === '') throw new TypeError('network must be a non-empty string');
  if (typeof networkId !== 'string' || networkId === '') throw new TypeError('networkId must be a non-empty string');
}
