/**
 * The seats service's Lua scripts. Each multi-key state change is one script: atomic, one round trip,
 * run by EVALSHA (ioredis loads it once per connection). Every script takes the same flight keys
 * (keys.ts, in that order), and every one that reads or changes holds first reclaims those whose time has passed, so an expired hold's seats
 * are available again without any background job. Times come from the Redis server's clock (TIME), so
 * Lambda clocks never disagree about expiry.
 *
 * Every script that changes the flight (a bump of the status version) records what it changed in the
 * flight's change stream in the same atomic step (`publish`): the entry's id starts with the version
 * it leads to, and it says which version it starts from, so a reader can tell a complete run of
 * changes from one with a gap. When someone watches the flight (functions/seats/live), the first
 * change since the last broadcast also asks for one (`kick` in the answer), once while one is due.
 */

const PRELUDE = `
local K_MAP, K_STATE, K_META, K_HOLDEXP, K_HOLDS, K_HOLDGC, K_BOOKINGS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_RETIRED, K_PENDING, K_HELDBY, K_CHANGES, K_WATCHERS, K_KICK, K_SENT, K_NOTICES, K_IDEM = KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16]
local RETAIN_MS = 86400000
-- Enough changes for a watcher that reconnects within a minute or two at a busy flight's pace.
local CHANGES_KEPT = 1000
-- How long a broadcast asked for may take to start before another may be asked for.
local KICK_MS = 10000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- How many holds this run found expired and ended: every answer reports it (a metric).
local holds_expired = 0

-- What this run changed, for the change stream: the first version it made, each seat's new status,
-- and whether the map or the flight's status changed.
local changes_from, changed_seats, changed_order, map_changed, flight_changed = nil, {}, {}, false, nil

local function bump()
  local version = redis.call('HINCRBY', K_META, 'version', 1)
  if not changes_from then changes_from = version end
end

local function note_seat(seat, status, expires_at_ms)
  if not changed_seats[seat] then changed_order[#changed_order + 1] = seat end
  changed_seats[seat] = {seat = seat, status = status, expiresAtMs = expires_at_ms}
end

-- Notes which primary makes the flight's versions from next_version on. Its replication id changes
-- when a replica takes over (or the server restarts), and a replica that took over after a failover
-- may not have the last versions its old primary made, so it makes those versions again with other
-- changes; primaryFrom says from where a watcher's version may be one of those (functions/seats/live).
local function note_primary(next_version)
  local id = string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)')
  local known = redis.call('HGET', K_META, 'primary')
  if id and id ~= known then
    redis.call('HSET', K_META, 'primary', id)
    if known then redis.call('HSET', K_META, 'primaryFrom', next_version) end
  end
end

-- Appends this run's changes to the stream (once); true when a broadcast should be asked for.
local function publish()
  if not changes_from then return false end
  note_primary(changes_from)
  local seats = {}
  for _, seat in ipairs(changed_order) do seats[#seats + 1] = changed_seats[seat] end
  local version = redis.call('HGET', K_META, 'version')
  local fields = {'from', changes_from, 'seats', #seats > 0 and cjson.encode(seats) or '[]'}
  if map_changed then
    fields[#fields + 1] = 'seatMapVersion'
    fields[#fields + 1] = redis.call('HGET', K_META, 'mapVersion')
  end
  if flight_changed then
    fields[#fields + 1] = 'flightStatus'
    fields[#fields + 1] = flight_changed
  end
  redis.call('XADD', K_CHANGES, 'MAXLEN', '~', CHANGES_KEPT, version .. '-*', unpack(fields))
  changes_from = nil
  return redis.call('EXISTS', K_WATCHERS) == 1 and redis.call('SET', K_KICK, '1', 'NX', 'PX', KICK_MS) ~= false
end

-- Booking emails this run recorded (every answer reports how many, so the caller starts the relay).
local noticed = 0

-- Records a booking email to send (functions/notifications/model.ts), in the same atomic step as the
-- change it tells of. Its id names the event, so a repeat is one email. Bookings made before checkout
-- existed have no contact to write to.
local function notice(kind, id_suffix, booking, extra)
  if not (booking.contact and booking.contact.email and booking.passengers and #booking.passengers > 0) then return end
  local seats = {}
  for i, seat in ipairs(booking.seats) do seats[i] = {id = seat.id, class = seat.class} end
  local summary = {bookingId = booking.bookingId, reference = booking.reference, flightId = booking.flightId, passengers = booking.passengers,
    seats = seats, total = booking.total}
  if kind ~= 'booking-confirmed' and booking.total then summary.refund = booking.total end
  local event = extra or {}
  event.id = kind .. ':' .. booking.bookingId .. id_suffix
  event.kind = kind
  event.to = booking.contact.email
  event.booking = summary
  redis.call('XADD', K_NOTICES, '*', 'event', cjson.encode(event))
  noticed = noticed + 1
end

local function fail(code, extra)
  local answer = extra or {}
  answer.error = code
  answer.expired = holds_expired
  answer.noticed = noticed
  answer.kick = publish()
  return cjson.encode(answer)
end

local function ok(result)
  result.ok = true
  result.expired = holds_expired
  result.noticed = noticed
  result.kick = publish()
  result.statusVersion = tonumber(redis.call('HGET', K_META, 'version'))
  return cjson.encode(result)
end

-- The map changes after its migration (a dropped seat leaves it once freed, a held seat takes its new
-- class or price): that is a map no client has fetched yet, so it gets a version of its own (once per
-- script), and the seatmap message that tells the watchers to fetch it names a new version.
local function map_changed_later()
  if not map_changed then redis.call('HINCRBY', K_META, 'mapVersion', 1) end
  map_changed = true
end

-- Frees the seats that still carry this marker; returns how many it freed. A freed seat that a
-- migration dropped leaves the map now; one whose class or price a migration changed takes it now.
local function free_seats(seats, marker)
  local freed = 0
  for _, seat in ipairs(seats) do
    if redis.call('HGET', K_STATE, seat) == marker then
      redis.call('HDEL', K_STATE, seat)
      freed = freed + 1
      if redis.call('HDEL', K_RETIRED, seat) == 1 then
        redis.call('HDEL', K_MAP, seat)
        map_changed_later()
      else
        note_seat(seat, 'available')
        local pending = redis.call('HGET', K_PENDING, seat)
        if pending then
          redis.call('HSET', K_MAP, seat, pending)
          redis.call('HDEL', K_PENDING, seat)
          map_changed_later()
        end
      end
    end
  end
  return freed
end

-- Counts the seats a person holds on this flight (the hold cap); a count that reaches 0 goes. Only
-- holds made since the cap existed are in the count (they say so: counted), so ending an older one
-- takes nothing off anyone's count.
local function count_held(hold, delta)
  if not hold.counted then return end
  if redis.call('HINCRBY', K_HELDBY, hold.userId, delta) <= 0 then redis.call('HDEL', K_HELDBY, hold.userId) end
end

-- Ends an active hold: frees its seats, records why, and schedules the record to be forgotten.
local function end_hold(hold, status, now)
  local freed = free_seats(hold.seats, 'H:' .. hold.holdId)
  count_held(hold, -#hold.seats)
  hold.status = status
  redis.call('HSET', K_HOLDS, hold.holdId, cjson.encode(hold))
  redis.call('ZREM', K_HOLDEXP, hold.holdId)
  redis.call('ZADD', K_HOLDGC, now + RETAIN_MS, hold.holdId)
  return freed
end

-- Frees a booking's seats and records its new status; its payment is then due for a refund.
local function end_booking(booking, status, at)
  local ids = {}
  for _, seat in ipairs(booking.seats) do ids[#ids + 1] = seat.id end
  free_seats(ids, 'B:' .. booking.bookingId)
  booking.status = status
  booking.cancelledAt = at
  if booking.payment and booking.payment.status == 'succeeded' then booking.payment.status = 'refund_pending' end
  redis.call('HSET', K_BOOKINGS, booking.bookingId, cjson.encode(booking))
end

-- A hold or booking by id, decoded; nil when there is none.
local function record(key, id)
  local raw = redis.call('HGET', key, id)
  return raw and cjson.decode(raw)
end

local function reclaim(now)
  local freed = 0
  for _, hold_id in ipairs(redis.call('ZRANGEBYSCORE', K_HOLDEXP, '-inf', now)) do
    local hold = record(K_HOLDS, hold_id)
    if hold then
      freed = freed + end_hold(hold, 'expired', now)
      holds_expired = holds_expired + 1
    else
      redis.call('ZREM', K_HOLDEXP, hold_id)
    end
  end
  for _, hold_id in ipairs(redis.call('ZRANGEBYSCORE', K_HOLDGC, '-inf', now)) do
    redis.call('HDEL', K_HOLDS, hold_id)
    redis.call('ZREM', K_HOLDGC, hold_id)
  end
  if freed > 0 then bump() end
end

local function flight_status()
  return redis.call('HGET', K_META, 'status')
end

-- What the seats cost together, in the flight's one currency (a seat map has one: functions/seats/model.ts).
local function total_of(seats)
  local amount, currency = 0, nil
  for _, seat in ipairs(seats) do
    local price = cjson.decode(redis.call('HGET', K_MAP, seat)).price
    amount = amount + price.amount
    currency = currency or price.currency
  end
  return {amount = amount, currency = currency}
end

-- Whether sales have closed: the flight departs within close_ms of now (a flight whose departure the
-- seats do not know yet is on sale).
local function sales_closed(now, close_ms)
  local departs = tonumber(redis.call('HGET', K_META, 'departsAtMs') or '')
  return departs ~= nil and now >= departs - tonumber(close_ms)
end

-- The stored answer to the request's Idempotency-Key, marked as a replay; nil when there is none.
-- A fingerprint that differs is another request under the same key.
local function replay_stored()
  local fingerprint = ARGV[1]
  if fingerprint == '' then return nil end
  local stored = redis.call('GET', K_IDEM)
  if not stored then return nil end
  local cut = string.find(stored, '\\n', 1, true)
  if string.sub(stored, 1, cut - 1) ~= fingerprint then return fail('IDEMPOTENCY_KEY_REUSED') end
  -- A write, so that the WAIT after a replay also waits for the first answer's change to reach the
  -- replicas (WAIT counts from the connection's last write).
  redis.call('EXPIRE', K_IDEM, tonumber(ARGV[2]))
  return 'replay\\n' .. string.sub(stored, cut + 1)
end

-- Keeps an answer as the one to replay for the request's Idempotency-Key (when it has one).
local function store_answer(answer)
  if ARGV[1] ~= '' then redis.call('SET', K_IDEM, ARGV[1] .. '\\n' .. answer, 'EX', tonumber(ARGV[2])) end
  return answer
end

-- Idempotency-Key (functions/seats/idempotency.ts): ARGV[1] is the request's fingerprint ('' without a
-- key), ARGV[2] how long its answer is kept. The answer is stored by the same script that made the
-- change, so the two can never be separated; a replay is marked with a leading "replay" line.
local function idempotent(run)
  local stored = replay_stored()
  if stored then return stored end
  local answer = run()
  -- An inconsistent state is our fault, not the request's: a retry must run again.
  if cjson.decode(answer).error ~= 'INTERNAL' then store_answer(answer) end
  return answer
end
`;

/**
 * ARGV: mapVersion, departure (ms since the epoch), then seat id / seat JSON pairs. Creates a flight's
 * seats; repeating it is a no-op.
 */
export const PROVISION = `${PRELUDE}
local status = flight_status()
if status then
  if redis.call('HGET', K_META, 'mapVersion') == ARGV[1] then return ok({existed = true}) end
  return fail('SEAT_MAP_EXISTS')
end
for i = 3, #ARGV, 2 do redis.call('HSET', K_MAP, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', K_META, 'status', 'scheduled', 'version', 1, 'mapVersion', ARGV[1], 'departsAtMs', ARGV[2])
return ok({existed = false})
`;

/** ARGV: departure (ms since the epoch). The flight's new departure time, which closes its sales. */
export const SCHEDULE = `${PRELUDE}
if not flight_status() then return fail('FLIGHT_NOT_FOUND') end
redis.call('HSET', K_META, 'departsAtMs', ARGV[1])
return ok({})
`;

/**
 * ARGV: fingerprint, idempotency TTL (see `idempotent`), holdId, userId, ttlMs, createdAt, limit, sales
 * close (ms before departure), seat ids… All-or-nothing, and refused when the caller's live holds on
 * this flight would then cover more than `limit` seats, or when sales have closed.
 */
export const HOLD = `${PRELUDE}
return idempotent(function()
  local status = flight_status()
  if not status then return fail('FLIGHT_NOT_FOUND') end
  if status == 'cancelled' then return fail('FLIGHT_CANCELLED') end
  local now = now_ms()
  if sales_closed(now, ARGV[8]) then return fail('FLIGHT_CLOSED') end
  reclaim(now)
  local hold_id, user_id, ttl_ms, created_at, limit = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
  local seats, missing, unavailable = {}, {}, {}
  for i = 9, #ARGV do seats[#seats + 1] = ARGV[i] end
  local held = tonumber(redis.call('HGET', K_HELDBY, user_id) or '0')
  if held + #seats > limit then return fail('HOLD_LIMIT_REACHED', {limit = limit, held = held}) end
  for _, seat in ipairs(seats) do
    if redis.call('HEXISTS', K_MAP, seat) == 0 then
      missing[#missing + 1] = seat
    elseif redis.call('HEXISTS', K_STATE, seat) == 1 then
      unavailable[#unavailable + 1] = seat
    end
  end
  if #missing > 0 then return fail('SEAT_NOT_FOUND', {seats = missing}) end
  if #unavailable > 0 then return fail('SEAT_UNAVAILABLE', {seats = unavailable}) end
  local marker = 'H:' .. hold_id
  local hold = {holdId = hold_id, userId = user_id, seats = seats, expiresAtMs = now + ttl_ms, createdAt = created_at, status = 'active', counted = true,
    total = total_of(seats)}
  for _, seat in ipairs(seats) do
    redis.call('HSET', K_STATE, seat, marker)
    note_seat(seat, 'held', hold.expiresAtMs)
  end
  redis.call('HSET', K_HOLDS, hold_id, cjson.encode(hold))
  redis.call('ZADD', K_HOLDEXP, hold.expiresAtMs, hold_id)
  count_held(hold, #seats)
  bump()
  return ok({hold = hold})
end)
`;

/**
 * ARGV: fingerprint, idempotency TTL (see `idempotent`), holdId, userId, payment guard (ms), sales close
 * (ms before departure), checkout JSON {passengers, contact, paymentMethod?}.
 * Starts paying for the caller's live hold: checks one passenger per held seat, prices the hold (one
 * currency per flight), and records the checkout on the hold with the key its charge is made under
 * (`<holdId>.<attempt>`: a new attempt only after a decline). While it runs the hold cannot expire: its
 * reclaim is put off by the guard. A second confirm while it runs (a retry, another tab) joins it with
 * the same payment method, and is refused with another.
 */
export const CHECKOUT_BEGIN = `${PRELUDE}
local stored = replay_stored()
if stored then return stored end
local now = now_ms()
reclaim(now)
local hold_id, user_id, guard_ms = ARGV[3], ARGV[4], tonumber(ARGV[5])
local wanted = cjson.decode(ARGV[7])
local hold = record(K_HOLDS, hold_id)
if not hold then return fail('HOLD_NOT_FOUND') end
if hold.userId ~= user_id then return fail('FORBIDDEN') end
if hold.status == 'expired' then return fail('HOLD_EXPIRED') end
if hold.status == 'confirmed' then
  -- The same request again, after the payments sweep or the provider's webhook booked its checkout
  -- (the confirm died before it could): it gets that booking, as from its own Idempotency-Key.
  local booking = hold.bookingId and record(K_BOOKINGS, hold.bookingId)
  if ARGV[1] ~= '' and hold.checkout and hold.checkout.fingerprint == ARGV[1] and booking then
    return 'replay\\n' .. store_answer(ok({booking = booking}))
  end
  return fail('HOLD_ALREADY_CONFIRMED', {bookingId = hold.bookingId})
end
if hold.status ~= 'active' then return fail('HOLD_NOT_FOUND') end
if hold.checkout then
  if hold.checkout.paymentMethod ~= wanted.paymentMethod then return fail('PAYMENT_IN_PROGRESS') end
  return ok({checkout = hold.checkout})
end
if flight_status() == 'cancelled' then return fail('FLIGHT_CANCELLED') end
if sales_closed(now, ARGV[6]) then return fail('FLIGHT_CLOSED') end
local named = {}
for _, passenger in ipairs(wanted.passengers) do named[passenger.seat] = (named[passenger.seat] or 0) + 1 end
local matches = #wanted.passengers == #hold.seats
for _, seat in ipairs(hold.seats) do matches = matches and named[seat] == 1 end
if not matches then return fail('PASSENGERS_MISMATCH', {seats = hold.seats}) end
local total = total_of(hold.seats)
if total.amount > 0 and not wanted.paymentMethod then return fail('PAYMENT_METHOD_REQUIRED') end
local attempt = (hold.attempts or 0) + 1
hold.checkout = {attempt = attempt, paymentKey = hold_id .. '.' .. attempt, passengers = wanted.passengers, contact = wanted.contact,
  paymentMethod = wanted.paymentMethod, total = total, startedAtMs = now, fingerprint = ARGV[1]}
redis.call('HSET', K_HOLDS, hold_id, cjson.encode(hold))
redis.call('ZADD', K_HOLDEXP, math.max(hold.expiresAtMs, now + guard_ms), hold_id)
return ok({checkout = hold.checkout})
`;

/**
 * ARGV: fingerprint, idempotency TTL, holdId, paymentKey, the answer to keep (a declined payment's).
 * Ends a checkout whose payment was declined: the hold is as it was before (its own expiry again), the
 * next attempt gets a new payment key, and the request's Idempotency-Key replays the decline.
 */
export const CHECKOUT_DECLINED = `${PRELUDE}
local hold = record(K_HOLDS, ARGV[3])
if hold and hold.checkout and hold.checkout.paymentKey == ARGV[4] then
  hold.attempts = hold.checkout.attempt
  hold.checkout = nil
  redis.call('HSET', K_HOLDS, hold.holdId, cjson.encode(hold))
  if hold.status == 'active' then redis.call('ZADD', K_HOLDEXP, hold.expiresAtMs, hold.holdId) end
end
return store_answer(ARGV[5])
`;

/**
 * ARGV: fingerprint, idempotency TTL, holdId, paymentKey, payment JSON {provider, paymentId}, bookingId,
 * reference, createdAt, flightId, ticket numbers (comma separated, one per passenger in order).
 * Turns a paid checkout into a booking: the hold's seats, its passengers with their tickets, contact,
 * total and payment. Done once per payment key: a repeat (a retried confirm, the payments sweep) answers
 * the booking that key made. CHECKOUT_GONE when the hold is no longer paying with this key (it expired
 * after its guard, or was lost): the payment must then be refunded.
 */
export const CHECKOUT_COMPLETE = `${PRELUDE}
local stored = replay_stored()
if stored then return stored end
local now = now_ms()
reclaim(now)
local hold_id, payment_key = ARGV[3], ARGV[4]
local hold = record(K_HOLDS, hold_id)
if hold and hold.status == 'confirmed' then
  local booking = record(K_BOOKINGS, hold.bookingId)
  if booking and booking.payment and booking.payment.paymentKey == payment_key then return store_answer(ok({booking = booking})) end
end
if not hold or hold.status ~= 'active' or not hold.checkout or hold.checkout.paymentKey ~= payment_key then return fail('CHECKOUT_GONE') end
local checkout, payment = hold.checkout, cjson.decode(ARGV[5])
local booking_id, reference, created_at, flight_id = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local tickets = {}
for ticket in string.gmatch(ARGV[10], '[^,]+') do tickets[#tickets + 1] = ticket end
local marker = 'H:' .. hold_id
local seats = {}
for _, seat in ipairs(hold.seats) do
  if redis.call('HGET', K_STATE, seat) ~= marker then return fail('INTERNAL', {seat = seat}) end
  local info = cjson.decode(redis.call('HGET', K_MAP, seat))
  seats[#seats + 1] = {id = seat, class = info.class, price = info.price}
end
local passengers = {}
for i, passenger in ipairs(checkout.passengers) do
  passengers[i] = {seat = passenger.seat, firstName = passenger.firstName, lastName = passenger.lastName, ticketNumber = tickets[i]}
end
for _, seat in ipairs(hold.seats) do
  redis.call('HSET', K_STATE, seat, 'B:' .. booking_id)
  note_seat(seat, 'booked')
end
local booking = {bookingId = booking_id, reference = reference, flightId = flight_id, userId = hold.userId, seats = seats, passengers = passengers,
  contact = checkout.contact, total = checkout.total, status = 'confirmed', createdAt = created_at, holdId = hold_id,
  payment = {provider = payment.provider, paymentId = payment.paymentId, paymentKey = payment_key, status = 'succeeded'}}
redis.call('HSET', K_BOOKINGS, booking_id, cjson.encode(booking))
notice('booking-confirmed', '', booking)
hold.status = 'confirmed'
hold.bookingId = booking_id
redis.call('HSET', K_HOLDS, hold_id, cjson.encode(hold))
count_held(hold, -#hold.seats)
redis.call('ZREM', K_HOLDEXP, hold_id)
redis.call('ZADD', K_HOLDGC, now + RETAIN_MS, hold_id)
bump()
return store_answer(ok({booking = booking}))
`;

/** ARGV: holdId, userId. Releases the caller's hold (not while it is being paid for); releasing an ended hold is a no-op. */
export const RELEASE = `${PRELUDE}
local now = now_ms()
reclaim(now)
local hold = record(K_HOLDS, ARGV[1])
if not hold or hold.userId ~= ARGV[2] then return fail('HOLD_NOT_FOUND') end
if hold.status == 'confirmed' then return fail('HOLD_ALREADY_CONFIRMED', {bookingId = hold.bookingId}) end
if hold.checkout then return fail('PAYMENT_IN_PROGRESS') end
if hold.status == 'active' then
  end_hold(hold, 'released', now)
  bump()
end
return ok({})
`;

/**
 * ARGV: bookingId, callerId, callerIsAdmin ("1"/"0"), cancelledAt, sales close (ms before departure).
 * A traveller cancels only while the flight is on sale; an admin at any time. The payment is then due
 * for a refund (refund_pending).
 */
export const CANCEL_BOOKING = `${PRELUDE}
local now = now_ms()
reclaim(now)
local booking = record(K_BOOKINGS, ARGV[1])
if not booking or (booking.userId ~= ARGV[2] and ARGV[3] ~= '1') then return fail('BOOKING_NOT_FOUND') end
if booking.status ~= 'confirmed' then return fail('ALREADY_CANCELLED') end
if ARGV[3] ~= '1' and sales_closed(now, ARGV[5]) then return fail('FLIGHT_CLOSED') end
end_booking(booking, 'cancelled', ARGV[4])
notice('booking-cancelled', '', booking)
bump()
return ok({booking = booking})
`;

/** ARGV: cancelledAt. Voids every live hold and marks every confirmed booking flight_cancelled. */
export const CANCEL_FLIGHT = `${PRELUDE}
if not flight_status() then return fail('FLIGHT_NOT_FOUND') end
local now = now_ms()
reclaim(now)
redis.call('HSET', K_META, 'status', 'cancelled')
flight_changed = 'cancelled'
local holds, bookings = 0, 0
for _, hold_id in ipairs(redis.call('ZRANGE', K_HOLDEXP, 0, -1)) do
  end_hold(record(K_HOLDS, hold_id), 'voided', now)
  holds = holds + 1
end
for _, raw in ipairs(redis.call('HVALS', K_BOOKINGS)) do
  local booking = cjson.decode(raw)
  if booking.status == 'confirmed' then
    end_booking(booking, 'flight_cancelled', ARGV[1])
    notice('flight-cancelled', '', booking)
    bookings = bookings + 1
  end
end
bump()
return ok({holdsVoided = holds, bookingsCancelled = bookings})
`;

/**
 * ARGV: change id, previous times JSON, current times JSON ({departureTime, arrivalTime}). Records a
 * time-change email for every confirmed booking of the flight, once per change id (the flights service
 * hands a change over until it is acknowledged).
 */
export const RETIMED = `${PRELUDE}
if not flight_status() then return fail('FLIGHT_NOT_FOUND') end
if redis.call('HSETNX', K_META, 'retimed:' .. ARGV[1], '1') == 0 then return ok({repeated = true}) end
local previous, current = cjson.decode(ARGV[2]), cjson.decode(ARGV[3])
for _, raw in ipairs(redis.call('HVALS', K_BOOKINGS)) do
  local booking = cjson.decode(raw)
  if booking.status == 'confirmed' then notice('flight-retimed', ':' .. ARGV[1], booking, {previous = previous, current = current}) end
end
return ok({repeated = false})
`;

/** ARGV: bookingId, refundedAt. Records that a cancelled booking's payment was refunded (a repeat changes nothing). */
export const REFUND_RECORDED = `${PRELUDE}
local booking = record(K_BOOKINGS, ARGV[1])
if not booking then return fail('BOOKING_NOT_FOUND') end
if booking.payment and booking.payment.status == 'refund_pending' then
  booking.payment.status = 'refunded'
  booking.payment.refundedAt = ARGV[2]
  redis.call('HSET', K_BOOKINGS, booking.bookingId, cjson.encode(booking))
end
return ok({booking = booking})
`;

/**
 * ARGV: fence token, policy ("reject" | "keep"), then seat id / seat JSON pairs of the new map. Applies
 * a new seat map in one step, fenced: the token (a per-flight counter the migrator draws after taking
 * the flight's Redlock lock) must be greater than the last one applied, which it then becomes. A
 * migrator whose lock expired while it was paused holds an older token than whoever took the lock
 * after it, so it can never overwrite the newer map, whichever servers hold the lock. The diff is
 * computed here against the live map rather than against a version read earlier.
 */
export const APPLY_SEAT_MAP = `${PRELUDE}
local status = flight_status()
if not status then return fail('FLIGHT_NOT_FOUND') end
if status == 'cancelled' then return fail('FLIGHT_CANCELLED') end
local fence = tonumber(ARGV[1])
local last_fence = tonumber(redis.call('HGET', K_META, 'fence') or '0')
if not fence or fence <= last_fence then return fail('FENCED', {fence = fence, lastFence = last_fence}) end
local from = tonumber(redis.call('HGET', K_META, 'mapVersion'))
reclaim(now_ms())
local keep = ARGV[2] == 'keep'
local wanted, order = {}, {}
for i = 3, #ARGV, 2 do
  wanted[ARGV[i]] = ARGV[i + 1]
  order[#order + 1] = ARGV[i]
end

local added, removed, changed = 0, 0, 0
local conflicts, drop, retire, set_now, set_later = {}, {}, {}, {}, {}
local current = redis.call('HGETALL', K_MAP)
local existing = {}
for i = 1, #current, 2 do
  local seat, info = current[i], current[i + 1]
  existing[seat] = true
  local marker = redis.call('HGET', K_STATE, seat)
  local new_info = wanted[seat]
  if new_info == nil then
    if marker then
      local seat_status = string.sub(marker, 1, 1) == 'H' and 'held' or 'booked'
      conflicts[#conflicts + 1] = {seat = seat, status = seat_status, resolution = keep and 'kept until released' or 'rejected'}
      retire[#retire + 1] = seat
    else
      drop[#drop + 1] = seat
    end
  else
    local pending = redis.call('HGET', K_PENDING, seat)
    if new_info ~= (pending or info) or redis.call('HEXISTS', K_RETIRED, seat) == 1 then
      if new_info ~= info then changed = changed + 1 end
      if marker then set_later[#set_later + 1] = seat else set_now[#set_now + 1] = seat end
    end
  end
end
if #conflicts > 0 and not keep then return fail('MIGRATION_CONFLICTS', {conflicts = conflicts}) end

for _, seat in ipairs(order) do
  if not existing[seat] then
    redis.call('HSET', K_MAP, seat, wanted[seat])
    added = added + 1
  end
end
for _, seat in ipairs(drop) do
  redis.call('HDEL', K_MAP, seat)
  redis.call('HDEL', K_PENDING, seat)
  removed = removed + 1
end
for _, seat in ipairs(retire) do
  redis.call('HSET', K_RETIRED, seat, 1)
  redis.call('HDEL', K_PENDING, seat)
end
for _, seat in ipairs(set_now) do
  redis.call('HSET', K_MAP, seat, wanted[seat])
  redis.call('HDEL', K_PENDING, seat)
  redis.call('HDEL', K_RETIRED, seat)
end
for _, seat in ipairs(set_later) do
  redis.call('HDEL', K_RETIRED, seat)
  if wanted[seat] == redis.call('HGET', K_MAP, seat) then
    redis.call('HDEL', K_PENDING, seat)
  else
    redis.call('HSET', K_PENDING, seat, wanted[seat])
  end
end
redis.call('HSET', K_META, 'mapVersion', from + 1, 'fence', fence)
map_changed = true
bump()
return ok({fromVersion = from, toVersion = from + 1, added = added, removed = removed, changed = changed, conflicts = conflicts})
`;

/** No ARGV. Reclaims expired holds, then returns [meta, map, state] as flat arrays (one snapshot), the holds it expired, and 1 when a broadcast should be asked for. */
export const READ_SEATS = `${PRELUDE}
if not flight_status() then return false end
reclaim(now_ms())
local kick = publish()
return {redis.call('HGETALL', K_META), redis.call('HGETALL', K_MAP), redis.call('HGETALL', K_STATE), holds_expired, kick and 1 or 0}
`;

/** No ARGV. Like READ_SEATS plus holds, active hold expiries and bookings, for the audit. */
export const READ_ALL = `${PRELUDE}
if not flight_status() then return false end
local now = now_ms()
reclaim(now)
local kick = publish()
return {redis.call('HGETALL', K_META), redis.call('HGETALL', K_MAP), redis.call('HGETALL', K_STATE),
  redis.call('HGETALL', K_HOLDS), redis.call('ZRANGE', K_HOLDEXP, 0, -1, 'WITHSCORES'), redis.call('HGETALL', K_BOOKINGS), tostring(now),
  redis.call('HKEYS', K_RETIRED), redis.call('HGETALL', K_HELDBY), holds_expired, kick and 1 or 0}
`;

/** A snapshot answer of the live seat map scripts: the flight's seat statuses at its version (in the script's atomic step). */
const LIVE_SNAPSHOT_ANSWER = `
local function snapshot_answer(version, kick)
  return {'snapshot', version, tonumber(redis.call('HGET', K_META, 'mapVersion')), redis.call('HKEYS', K_MAP), redis.call('HGETALL', K_STATE),
    redis.call('ZRANGE', K_HOLDEXP, 0, -1, 'WITHSCORES'), kick}
end
`;

/**
 * ARGV: connection id, until when its subscription lasts (ms), the version the watcher has ('' for
 * none). Live seat maps (functions/seats/live): adds the watcher, makes sure the flight has a broadcast
 * cursor from now on, and answers in one snapshot of the flight either the changes since that version
 * (when the stream still holds every one of them, and none may repeat a version a failed primary
 * made) or the seat statuses:
 *   {'changes', version, entries, kick} | {'snapshot', version, mapVersion, seat ids, state, hold expiries, kick}
 * or false for a flight that does not exist.
 */
export const LIVE_SUBSCRIBE = `${PRELUDE}${LIVE_SNAPSHOT_ANSWER}
if not flight_status() then return false end
reclaim(now_ms())
local kick = publish() and 1 or 0
redis.call('ZADD', K_WATCHERS, ARGV[2], ARGV[1])
redis.call('PEXPIREAT', K_WATCHERS, ARGV[2], 'GT')
redis.call('PEXPIREAT', K_WATCHERS, ARGV[2], 'NX')
local version = tonumber(redis.call('HGET', K_META, 'version'))
note_primary(version + 1)
redis.call('SET', K_SENT, version, 'NX', 'PX', RETAIN_MS)
local since = tonumber(ARGV[3])
-- A version from the one a new primary started at on may be one its predecessor made with other
-- changes and lost; while the stream reaches back to that start, such a watcher gets a snapshot.
local reused_from = tonumber(redis.call('HGET', K_META, 'primaryFrom') or '')
local oldest = redis.call('XRANGE', K_CHANGES, '-', '+', 'COUNT', 1)[1]
local suspect = since and reused_from and since >= reused_from and oldest and tonumber(string.match(oldest[1], '^%d+')) <= reused_from
if since and since <= version and not suspect then
  local entries = redis.call('XRANGE', K_CHANGES, (since + 1) .. '-0', '+')
  local first = entries[1]
  -- Complete when nothing happened since, or when the first change kept starts right after it.
  if since == version or (first and tonumber(first[2][2]) <= since + 1) then return {'changes', version, entries, kick} end
end
return snapshot_answer(version, kick)
`;

/**
 * No ARGV. The seat statuses of a watched flight for the broadcaster, as a subscribe answers them: for
 * a connection whose last post failed, and for every watcher when a failover may have made versions
 * again. Reclaims expired holds first (their change goes out with the next run).
 */
export const LIVE_SNAPSHOT = `${PRELUDE}${LIVE_SNAPSHOT_ANSWER}
if not flight_status() then return false end
reclaim(now_ms())
local kick = publish() and 1 or 0
return snapshot_answer(tonumber(redis.call('HGET', K_META, 'version')), kick)
`;

/**
 * No ARGV. The sweep of a watched flight: reclaims expired holds (so watchers hear of an expiry within
 * the sweep's period even when nobody touches the flight) and asks for a broadcast when changes are
 * waiting that no broadcast has sent (one that was asked for but never ran). Returns 1 to ask.
 */
export const LIVE_SWEEP = `${PRELUDE}
if not flight_status() then return 0 end
reclaim(now_ms())
local kick = publish()
if not kick and redis.call('EXISTS', K_WATCHERS) == 1 then
  local last = redis.call('XREVRANGE', K_CHANGES, '+', '-', 'COUNT', 1)[1]
  local sent = tonumber(redis.call('GET', K_SENT) or '0')
  if last and tonumber(string.match(last[1], '^%d+')) > sent then
    kick = redis.call('SET', K_KICK, '1', 'NX', 'PX', KICK_MS) ~= false
  end
end
return kick and 1 or 0
`;
