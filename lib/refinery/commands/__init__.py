"""Commands that read the lake and write reports: the dataset card, explain, profile, and the checks the CLI makes
before the JVM starts. They import no stage."""
