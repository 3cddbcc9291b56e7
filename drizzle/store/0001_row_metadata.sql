ALTER TABLE `__kv_store__` ADD `updated_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `__kv_store__` ADD `size` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Backfill: the size of each existing entry, and the time of the upgrade as its last write
-- (the real one was never recorded).
UPDATE `__kv_store__` SET
	`size` = length(CAST(`key` AS BLOB)) + length(CAST(`value` AS BLOB)),
	`updated_at` = CAST(unixepoch('subsec') * 1000 AS INTEGER);
