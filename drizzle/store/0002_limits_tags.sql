ALTER TABLE `__kv_store__` ADD `accessed_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `__kv_store__` ADD `hits` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `__kv_store__` ADD `tags` text;--> statement-breakpoint
-- Backfill: an entry never read since the upgrade was last used when it was last written.
UPDATE `__kv_store__` SET `accessed_at` = `updated_at`;
--> statement-breakpoint
-- The store's counters start from what its table holds (a recreated store starts afresh).
DELETE FROM `drizzle_kv_counters` WHERE `store` = '__kv_store__';
--> statement-breakpoint
INSERT INTO `drizzle_kv_counters` (`store`, `shard`, `bytes`, `entries`)
	SELECT '__kv_store__', 0, coalesce(sum(`size`), 0), count(*) FROM `__kv_store__`;
--> statement-breakpoint
DELETE FROM `drizzle_kv_tags` WHERE `store` = '__kv_store__';
--> statement-breakpoint
-- Every change of a row keeps the counters and the tag index in step, whatever the
-- statement (a write, pop, expiry, eviction, clear), and whichever handle or release ran it.
CREATE TRIGGER `__kv_store___kv_insert` AFTER INSERT ON `__kv_store__` BEGIN
	UPDATE `drizzle_kv_counters` SET `bytes` = `bytes` + new.`size`, `entries` = `entries` + 1
		WHERE `store` = '__kv_store__' AND `shard` = 0;
	INSERT OR IGNORE INTO `drizzle_kv_tags` (`store`, `tag`, `key`)
		SELECT '__kv_store__', j.value, new.`key` FROM json_each(new.`tags`) AS j WHERE new.`tags` IS NOT NULL;
END;
--> statement-breakpoint
CREATE TRIGGER `__kv_store___kv_update` AFTER UPDATE OF `size`, `tags` ON `__kv_store__` BEGIN
	UPDATE `drizzle_kv_counters` SET `bytes` = `bytes` + new.`size` - old.`size`
		WHERE `store` = '__kv_store__' AND `shard` = 0 AND new.`size` <> old.`size`;
	DELETE FROM `drizzle_kv_tags`
		WHERE `store` = '__kv_store__' AND `key` = old.`key` AND old.`tags` IS NOT NULL AND old.`tags` IS NOT new.`tags`;
	INSERT OR IGNORE INTO `drizzle_kv_tags` (`store`, `tag`, `key`)
		SELECT '__kv_store__', j.value, new.`key` FROM json_each(new.`tags`) AS j
		WHERE new.`tags` IS NOT NULL AND old.`tags` IS NOT new.`tags`;
END;
--> statement-breakpoint
CREATE TRIGGER `__kv_store___kv_delete` AFTER DELETE ON `__kv_store__` BEGIN
	UPDATE `drizzle_kv_counters` SET `bytes` = `bytes` - old.`size`, `entries` = `entries` - 1
		WHERE `store` = '__kv_store__' AND `shard` = 0;
	DELETE FROM `drizzle_kv_tags` WHERE `store` = '__kv_store__' AND `key` = old.`key` AND old.`tags` IS NOT NULL;
END;
