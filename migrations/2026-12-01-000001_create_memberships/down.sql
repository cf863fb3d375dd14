DROP INDEX messages_by_sender;
DROP TABLE memberships;
