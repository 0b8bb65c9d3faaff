-- Pathway step names are bilingual like scripts ({ en = "Day 1 nurse call", zh = "第1天护士随访" }):
-- tasks keep the English name in step_name and the Chinese one here. Rows made before are
-- filled at start-up from the loaded pathways (store::patients::fill_step_names_zh); the console
-- falls back to step_name where this stays NULL.
ALTER TABLE followup_tasks ADD COLUMN step_name_zh TEXT;
