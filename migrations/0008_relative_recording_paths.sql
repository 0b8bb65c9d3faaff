-- Recording paths are stored relative to the recordings folder (store::recording_files).
-- A server run with the default relative data_dir (".", the demo) stored the working-directory
-- path "./recordings/YYYY/MM/DD/ID.wav", which was later joined to the folder a second time
-- ("./recordings/./recordings/…"): playback answered 404 and transcription failed. Absolute
-- paths inside the folder are made relative at start-up, where the folder is known.
UPDATE recordings SET path = substr(path, length('./recordings/') + 1)
 WHERE substr(path, 1, length('./recordings/')) = './recordings/';
UPDATE recordings SET path = substr(path, length('recordings/') + 1)
 WHERE substr(path, 1, length('recordings/')) = 'recordings/';
