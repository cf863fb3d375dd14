-- A user's rooms and how far they have read in each. A row is made by joining a
-- room (read_id = the room's last id then, so joining does not flood the user with
-- unread history) or by the first message of a direct room (the recipient's with
-- read_id 0); `leave` with "forget" deletes it. read_id only moves forward.
--
-- The primary key (user_id, room) is the room list's index: GET /v1/rooms reads one
-- user's rows in one index range, then each room's last message and its unread
-- count through messages' own primary key (room, id) — see store/memberships.rs.
CREATE TABLE memberships (
    user_id   uuid        NOT NULL,
    room      text        NOT NULL,
    read_id   bigint      NOT NULL DEFAULT 0 CHECK (read_id >= 0),
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room)
);

-- Unread counts: ids have no holes, so the messages above a marker number
-- last_message_id - read_id, less the user's own, which this index counts without
-- touching the heap. Counting the others' rows instead took 320 ms for 300 rooms
-- with ~900 unread each (bitmap scans of 270 000 rows); this takes 3 ms.
CREATE INDEX messages_by_sender ON messages (room, user_id, id);
