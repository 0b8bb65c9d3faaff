-- A recording whose file could not be written to the end (disk full, I/O error) is marked
-- with why; the call itself went on without it. The audio up to the failure is kept (its
-- header repaired), so status is 'repaired' with a checksum when that worked.
ALTER TABLE recordings ADD COLUMN failure TEXT;
