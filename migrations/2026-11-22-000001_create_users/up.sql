-- Accounts are created by the first successful code confirmation for an address.
CREATE TABLE users (
    id           uuid        PRIMARY KEY,
    -- Normalized (trimmed, lower-cased ASCII) address; the application normalizes, the
    -- CHECK keeps a bug elsewhere from storing two spellings of one address.
    email        text        NOT NULL UNIQUE CHECK (email = lower(btrim(email))),
    display_name text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    verified_at  timestamptz NOT NULL DEFAULT now()
);
