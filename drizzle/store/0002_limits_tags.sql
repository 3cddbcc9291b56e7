ALTER TABLE `__kv_store__` ADD `accessed_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `__kv_store__` ADD `hits` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `__kv_store__` ADD `tags` text;--> statement-breakpoint
-- Backfill: an entry never read since the upgrade was last used when it was last written.
UPDATE `__kv_store__` SET `accessed_at` = `updated_at`;
--> statement-breakpoint
-- A recreated store starts afresh.
DELETE FROM `drizzle_kv_tags` WHERE `store` = '__kv_store__';
--> statement-breakpoint
-- The tag index follows the entries' tags, whatever deletes or rewrites a row (a write, pop, expiry,
-- eviction, clear) and whichever handle or release ran it. Untagged rows skip the triggers (WHEN).
CREATE TRIGGER `__kv_store___tags_insert` AFTER INSERT ON `__kv_store__` WHEN new.`tags` IS NOT NULL BEGIN
	INSERT OR IGNORE INTO `drizzle_kv_tags` (`store`, `tag`, `key`) SELECT '__kv_store__', j.value, new.`key` FROM json_each(new.`tags`) AS j;
END;
--> statement-breakpoint
CREATE TRIGGER `__kv_store___tags_update` AFTER UPDATE OF `tags` ON `__kv_store__` WHEN old.`tags` IS NOT new.`tags` BEGIN
	DELETE FROM `drizzle_kv_tags` WHERE `store` = '__kv_store__' AND `key` = old.`key`;
	INSERT OR IGNORE INTO `drizzle_kv_tags` (`store`, `tag`, `key`) SELECT '__kv_store__', j.value, new.`key` FROM json_each(new.`tags`) AS j;
END;
--> statement-breakpoint
CREATE TRIGGER `__kv_store___tags_delete` AFTER DELETE ON `__kv_store__` WHEN old.`tags` IS NOT NULL BEGIN
	DELETE FROM `drizzle_kv_tags` WHERE `store` = '__kv_store__' AND `key` = old.`key`;
END;
