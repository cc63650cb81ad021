"""The stages of a tabular pipeline (record data): ingest typing, curate by MERGE of changes, publish."""
