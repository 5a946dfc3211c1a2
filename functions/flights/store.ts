import type { ScheduleTimes } from '../notifications/model';
import type { DynamoDocuments } from '../../lib/clients/dynamo';
import { departureDay, type Flight } from './model';

/**
 * Flights in the flights service's DynamoDB table (serverless.yml: FlightsTable).
 *
 *   pk                                  item
 *   FLIGHT#<id>                         the flight, plus routeDay / departureKey for the search index
 *   FLIGHTNO#<flightNumber>#<day>       the claim that makes flight number + departure day unique
 *   AIRPORTS                            `codes`: every airport a flight was scheduled from or to (GET /airports)
 *
 * Search is a Query on the GSI byRouteAndDay: routeDay = "ORIGIN#DESTINATION#YYYY-MM-DD", sorted by
 * departureKey = "<departureTime>#<id>". Writes are conditional (no transactions: dynalite has none),
 * with compensation when the second of two writes fails.
 */

export class ConditionFailed extends Error {}

const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

export const routeDayOf = (f: Pick<Flight, 'origin' | 'destination' | 'departureTime'>) => `${f.origin}#${f.destination}#${departureDay(f.departureTime)}`;

export interface FlightStore {
  claimFlightNumber(flightNumber: string, day: string, flightId: string): Promise<boolean>;
  releaseFlightNumber(flightNumber: string, day: string, flightId: string): Promise<void>;
  insert(flight: Flight): Promise<void>;
  /**
   * Replaces a flight if it still has `expectedUpdatedAt` (optimistic concurrency); else ConditionFailed.
   * A time change to tell the flight's travellers about is recorded in the same write.
   */
  replace(flight: Flight, expectedUpdatedAt: string, retime?: Retime): Promise<void>;
  /** Flights with time changes still to hand to the seats service, oldest first. */
  retimedFlights(limit: number): Promise<string[]>;
  /** The flight's oldest time change still to hand over. */
  firstRetime(id: string): Promise<Retime | undefined>;
  /** Forgets a handed-over time change (the oldest, if it is this one); the flight leaves the list with its last. */
  dropRetime(id: string, changeId: string): Promise<void>;
  get(id: string): Promise<Flight | undefined>;
  /** The flights of these ids that exist, in no particular order. */
  getMany(ids: string[]): Promise<Flight[]>;
  /** Records a migration's new seat-map version; never moves it backwards. */
  recordSeatMapVersion(id: string, version: number, at: string): Promise<void>;
  search(routeDay: string, limit: number, after?: Record<string, string>): Promise<{ items: Flight[]; lastKey?: Record<string, string> }>;
  /** Adds airports to the set GET /airports lists; it only grows (a cancelled flight's airports stay). */
  noteAirports(codes: string[]): Promise<void>;
  airports(): Promise<string[]>;
}

/**
 * A flight's time change, kept on the flight's item (`retimes`, oldest first) from the PATCH that made
 * it until the seats service has recorded its emails; meanwhile the item is on the sparse
 * `migrationQueue` index under queue "retime" (the flights service's to-do lists share that index).
 */
export interface Retime {
  changeId: string;
  previous: ScheduleTimes;
  current: ScheduleTimes;
}
const RETIME_QUEUE = 'retime';

const FLIGHT_FIELDS = ['id', 'flightNumber', 'origin', 'destination', 'departureTime', 'arrivalTime', 'status', 'seatMapVersion', 'createdAt', 'updatedAt'] as const;
const AIRPORTS_KEY = { pk: 'AIRPORTS' };
const toFlight = (item: Record<string, unknown>): Flight => Object.fromEntries(FLIGHT_FIELDS.map((f) => [f, item[f]])) as unknown as Flight;

export class DynamoFlightStore implements FlightStore {
  constructor(
    private readonly db: DynamoDocuments,
    private readonly table: string,
  ) {}

  private item(flight: Flight) {
    return { pk: `FLIGHT#${flight.id}`, ...flight, routeDay: routeDayOf(flight), departureKey: `${flight.departureTime}#${flight.id}` };
  }

  async claimFlightNumber(flightNumber: string, day: string, flightId: string): Promise<boolean> {
    try {
      await this.db.put({
        TableName: this.table,
        Item: { pk: `FLIGHTNO#${flightNumber}#${day}`, flightId },
        ConditionExpression: 'attribute_not_exists(pk) OR flightId = :id',
        ExpressionAttributeValues: { ':id': flightId },
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseFlightNumber(flightNumber: string, day: string, flightId: string): Promise<void> {
    await this.db
      .delete({
        TableName: this.table,
        Key: { pk: `FLIGHTNO#${flightNumber}#${day}` },
        ConditionExpression: 'flightId = :id',
        ExpressionAttributeValues: { ':id': flightId },
      })
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async insert(flight: Flight): Promise<void> {
    await this.db.put({ TableName: this.table, Item: this.item(flight), ConditionExpression: 'attribute_not_exists(pk)' });
  }

  async replace(flight: Flight, expectedUpdatedAt: string, retime?: Retime): Promise<void> {
    // An update, not a put: the item's time changes still to hand over stay.
    const { pk, ...fields } = this.item(flight);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':expected': expectedUpdatedAt };
    const sets = Object.entries(fields).map(([field, value]) => {
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      return `#${field} = :${field}`;
    });
    if (retime) {
      sets.push('retimes = list_append(if_not_exists(retimes, :none), :retime)', '#queue = if_not_exists(#queue, :retimeQueue)', 'queueKey = if_not_exists(queueKey, :queueKey)');
      Object.assign(names, { '#queue': 'queue' });
      Object.assign(values, { ':none': [], ':retime': [retime], ':retimeQueue': RETIME_QUEUE, ':queueKey': `${flight.updatedAt}#${flight.id}` });
    }
    try {
      await this.db.update({
        TableName: this.table,
        Key: { pk },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: '#updatedAt = :expected',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
    } catch (error) {
      if (isConditionFailure(error)) throw new ConditionFailed();
      throw error;
    }
  }

  async retimedFlights(limit: number): Promise<string[]> {
    const { Items } = await this.db.query({
      TableName: this.table,
      IndexName: 'migrationQueue',
      KeyConditionExpression: '#queue = :retime',
      ExpressionAttributeNames: { '#queue': 'queue' },
      ExpressionAttributeValues: { ':retime': RETIME_QUEUE },
      Limit: limit,
    });
    return Items.map((item) => String(item.pk).slice('FLIGHT#'.length));
  }

  async firstRetime(id: string): Promise<Retime | undefined> {
    const { Item } = await this.db.get({ TableName: this.table, Key: { pk: `FLIGHT#${id}` }, ConsistentRead: true, ProjectionExpression: 'retimes' });
    return (Item?.retimes as Retime[] | undefined)?.[0];
  }

  async dropRetime(id: string, changeId: string): Promise<void> {
    const key = { pk: `FLIGHT#${id}` };
    try {
      await this.db.update({ TableName: this.table, Key: key, UpdateExpression: 'REMOVE retimes[0]', ConditionExpression: 'retimes[0].changeId = :id', ExpressionAttributeValues: { ':id': changeId } });
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    await this.db
      .update({ TableName: this.table, Key: key, UpdateExpression: 'REMOVE retimes, #queue, queueKey', ConditionExpression: 'size(retimes) = :zero', ExpressionAttributeNames: { '#queue': 'queue' }, ExpressionAttributeValues: { ':zero': 0 } })
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async get(id: string): Promise<Flight | undefined> {
    const { Item } = await this.db.get({ TableName: this.table, Key: { pk: `FLIGHT#${id}` }, ConsistentRead: true });
    return Item ? toFlight(Item) : undefined;
  }

  async getMany(ids: string[]): Promise<Flight[]> {
    return (await this.db.getAll(this.table, ids.map((id) => ({ pk: `FLIGHT#${id}` })))).map(toFlight);
  }

  async recordSeatMapVersion(id: string, version: number, at: string): Promise<void> {
    await this.db
      .update({
        TableName: this.table,
        Key: { pk: `FLIGHT#${id}` },
        UpdateExpression: 'SET seatMapVersion = :v, updatedAt = :at',
        ConditionExpression: 'attribute_exists(pk) AND seatMapVersion < :v',
        ExpressionAttributeValues: { ':v': version, ':at': at },
      })
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async search(routeDay: string, limit: number, after?: Record<string, string>) {
    const result = await this.db.query({
      TableName: this.table,
      IndexName: 'byRouteAndDay',
      KeyConditionExpression: 'routeDay = :routeDay',
      ExpressionAttributeValues: { ':routeDay': routeDay },
      Limit: limit,
      ExclusiveStartKey: after,
    });
    return { items: (result.Items ?? []).map(toFlight), lastKey: result.LastEvaluatedKey as Record<string, string> | undefined };
  }

  async noteAirports(codes: string[]): Promise<void> {
    await this.db.update({ TableName: this.table, Key: AIRPORTS_KEY, UpdateExpression: 'ADD codes :codes', ExpressionAttributeValues: { ':codes': new Set(codes) } });
  }

  async airports(): Promise<string[]> {
    const { Item } = await this.db.get({ TableName: this.table, Key: AIRPORTS_KEY });
    return [...((Item?.codes as Set<string> | undefined) ?? [])];
  }
}
