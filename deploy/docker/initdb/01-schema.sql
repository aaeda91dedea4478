-- hsn demo schema for the query service (deploy/queries.sql).
-- Idempotent: safe to run again on a database that already has it.

CREATE TABLE IF NOT EXISTS users (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    profile     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    total       numeric(12, 2) NOT NULL CHECK (total >= 0),
    status      text NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS orders_user_id ON orders (user_id);

INSERT INTO users (id, email, name, profile) VALUES
    (1, 'ann@example.com', 'Ann', '{"plan": "pro"}'),
    (2, 'bob@example.com', 'Bob', '{}'),
    (3, 'cy@example.com',  'Cy',  '{"plan": "free"}')
ON CONFLICT (id) DO NOTHING;
SELECT setval ('users_id_seq', GREATEST ((SELECT max (id) FROM users), 1));

INSERT INTO orders (id, user_id, total, status) VALUES
    (1, 1, 19.99, 'paid'),
    (2, 1, 5.00,  'new'),
    (3, 2, 120.50, 'shipped')
ON CONFLICT (id) DO NOTHING;
SELECT setval ('orders_id_seq', GREATEST ((SELECT max (id) FROM orders), 1));
