-- Named queries served by hsn-query (QUERIES_FILE; SIGHUP reloads it).
-- Schema: deploy/docker/initdb/01-schema.sql.
--
-- A block starts at "-- name:"; "-- params:" declares name:type in the order
-- of $1..$n (int, float, text, bool, json, timestamp, numeric, bytea);
-- "-- cache:" is seconds a result may be cached in hsn-cache (0: never);
-- "-- tags:" the tags a cached result is stored under (default: the tables
-- after FROM / JOIN); "-- invalidates:" the tags a successful run drops --
-- name the tables it writes, so the cached reads of them go. A query writes
-- when it has "-- invalidates:" or is not a SELECT (or WITH ... SELECT without
-- INSERT/UPDATE/DELETE); a write cannot be cached, and a GET (readonly)
-- request refuses it. Values are always bound as parameters.

-- name: user_by_id
-- params: id:int
-- cache: 60
SELECT id, email, name, active, profile, created_at
FROM users
WHERE id = $1;

-- name: user_by_email
-- params: email:text
-- cache: 60
SELECT id, email, name, active, profile, created_at
FROM users
WHERE email = $1;

-- name: users_list
-- params: limit:int, offset:int
-- cache: 10
SELECT id, email, name, active
FROM users
ORDER BY id
LIMIT $1 OFFSET $2;

-- name: orders_by_user
-- params: user_id:int
-- cache: 30
SELECT id, total, status, created_at
FROM orders
WHERE user_id = $1
ORDER BY id;

-- name: user_order_totals
-- The users with their order count and total spent.
-- cache: 30
SELECT u.id, u.name, count(o.id) AS orders, coalesce(sum(o.total), 0) AS spent
FROM users u LEFT JOIN orders o ON o.user_id = u.id
GROUP BY u.id, u.name
ORDER BY u.id;

-- name: user_create
-- params: email:text, name:text, profile:json
-- invalidates: users
INSERT INTO users (email, name, profile)
VALUES ($1, $2, $3::jsonb)
RETURNING id, email, name, created_at;

-- name: user_deactivate
-- params: id:int
-- invalidates: users
UPDATE users SET active = false WHERE id = $1
RETURNING id, active;

-- name: order_create
-- params: user_id:int, total:numeric
-- invalidates: orders,users
INSERT INTO orders (user_id, total)
VALUES ($1, $2)
RETURNING id, user_id, total, status, created_at;

-- name: order_set_status
-- params: id:int, status:text
-- invalidates: orders
UPDATE orders SET status = $2 WHERE id = $1
RETURNING id, status;
