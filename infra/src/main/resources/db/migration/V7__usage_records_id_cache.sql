-- usage_records takes one row per inference request, thousands per second under load. Its id
-- sequence handed out values 32 at a time, and the embedded database persists a sequence each
-- time it refills (a store write): with commits written through, that was a third of the
-- gateway's CPU under load. Ids only order rows; gaps after a restart are fine.
alter table usage_records alter column id set cache 1000;
