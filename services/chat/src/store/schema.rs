//! Diesel's view of the tables in `migrations/`.

diesel::table! {
    rooms (name) {
        name -> Text,
        last_message_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    messages (room, id) {
        room -> Text,
        id -> Int8,
        user_id -> Uuid,
        user_name -> Text,
        body -> Text,
        client_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(messages -> rooms (room));
diesel::allow_tables_to_appear_in_same_query!(rooms, messages);
