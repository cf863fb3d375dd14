-- A room row exists once anything was said in it. last_message_id is the room's id
-- counter: a writer bumps it with UPDATE ... RETURNING inside the transaction that
-- inserts the messages, so the row lock orders writers per room and a message with
-- id N is committed only after every id below N in that room. That is what lets a
-- client catch up with "id > since" and never skip a message committed late.
CREATE TABLE rooms (
    name            text        PRIMARY KEY,
    last_message_id bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE messages (
    room       text        NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    id         bigint      NOT NULL,
    user_id    uuid        NOT NULL,
    -- The sender's display name when sent, as the clients show it.
    user_name  text        NOT NULL,
    body       text        NOT NULL,
    client_id  text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room, id)
);

-- A retried send (same user, room and client_id) never stores a second message.
CREATE UNIQUE INDEX messages_idempotency ON messages (room, user_id, client_id)
    WHERE client_id IS NOT NULL;
