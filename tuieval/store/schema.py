"""The database schema, its version, and the migrations that bring older files up to date.

Plain SQL so the file opens in sqlite3, sqlite-utils and Datasette and users can query it.
JSON columns hold JSON text (query them with SQLite's json_extract).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 19

# Each entry upgrades a database from version i to i+1. Never edit a released step:
# append a new one, so every file created by an older tuieval still opens.
MIGRATIONS: list[str] = [
    # 0 -> 1: runs, cases, samples
    """
    CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        suite_path TEXT,
        model TEXT NOT NULL,
        simulated INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,              -- running | complete | partial | failed
        samples_per_case INTEGER NOT NULL,
        temperature REAL NOT NULL,
        max_tokens INTEGER,
        seed INTEGER,
        concurrency INTEGER,
        slo_ms REAL,
        base_url TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        n_cases INTEGER NOT NULL,
        n_templates INTEGER NOT NULL,
        n_expected INTEGER NOT NULL,      -- cases x templates x samples
        pid INTEGER,                       -- writer process while running (stale-run detection)
        config TEXT NOT NULL               -- JSON: templates, scorers, gates, variance, cluster_key
    );
    CREATE TABLE IF NOT EXISTS cases (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        case_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        vars TEXT NOT NULL,                -- JSON object of template variables
        targets TEXT NOT NULL,             -- JSON list of accepted targets
        metadata TEXT NOT NULL,            -- JSON object
        input_text TEXT NOT NULL,
        PRIMARY KEY (run_id, case_id)
    );
    CREATE TABLE IF NOT EXISTS samples (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        case_id TEXT NOT NULL,
        template TEXT NOT NULL,
        sample_index INTEGER NOT NULL,
        dispatch_order INTEGER NOT NULL,
        prompt TEXT NOT NULL,              -- JSON list of chat messages sent
        response TEXT,
        reasoning TEXT,
        extracted TEXT,
        correct INTEGER NOT NULL,          -- 0/1; an error is 0
        score REAL NOT NULL,
        scores TEXT,                       -- JSON: every scorer's {extracted, correct, score}
        latency_ms REAL,
        ttft_ms REAL,
        output_tokens INTEGER,
        input_tokens INTEGER,
        finish_reason TEXT,
        error TEXT,                        -- short reason, NULL on success
        error_kind TEXT,                   -- rate_limited | server_error | transport | timeout | client_error
        attempts INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        UNIQUE (run_id, case_id, template, sample_index)
    );
    CREATE INDEX IF NOT EXISTS samples_run ON samples(run_id, case_id);
    """,
    # 1 -> 2: semantic clusters, written by the analysis so readers need not recompute
    """
    ALTER TABLE samples ADD COLUMN cluster INTEGER;
    CREATE TABLE IF NOT EXISTS clusters (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        case_id TEXT NOT NULL,
        template TEXT NOT NULL,
        cluster INTEGER NOT NULL,
        method TEXT NOT NULL,
        size INTEGER NOT NULL,
        correct INTEGER NOT NULL,
        representative TEXT,
        PRIMARY KEY (run_id, case_id, template, cluster)
    );
    CREATE VIEW IF NOT EXISTS case_scores AS
        SELECT s.run_id, s.case_id, s.template,
               COUNT(*) AS n_samples,
               AVG(s.correct) AS accuracy,
               SUM(s.error IS NOT NULL) AS n_errors,
               c.metadata
        FROM samples s JOIN cases c ON c.run_id = s.run_id AND c.case_id = s.case_id
        GROUP BY s.run_id, s.case_id, s.template;
    CREATE VIEW IF NOT EXISTS run_summary AS
        SELECT r.id AS run_id, r.suite, r.model, r.status,
               COUNT(s.id) AS n_samples, r.n_expected,
               AVG(s.correct) AS accuracy,
               AVG(s.error IS NOT NULL) AS error_rate,
               r.started_at, r.finished_at
        FROM runs r LEFT JOIN samples s ON s.run_id = r.id
        GROUP BY r.id;
    """,
    # 2 -> 3: the computed report of a finished run, so reopening a large run is a read
    """
    CREATE TABLE IF NOT EXISTS reports (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,         -- tuieval version, sample count, last sample id, status
        created_at TEXT NOT NULL,
        body TEXT NOT NULL                 -- the tuieval.report/1 JSON
    );
    """,
    # 3 -> 4: judge scorer verdicts, one row per judge request, linked to the sample judged
    """
    CREATE TABLE IF NOT EXISTS judgements (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        case_id TEXT NOT NULL,             -- with template and sample_index: the sample judged
        template TEXT NOT NULL,
        sample_index INTEGER NOT NULL,
        scorer TEXT NOT NULL,              -- the judge scorer's name
        judge TEXT NOT NULL,               -- the judge model spec
        judge_sample INTEGER NOT NULL,     -- 0..N-1: the judge's N samples of one response
        orientation TEXT NOT NULL DEFAULT '',  -- pairwise: ab (answer first) | ba; else empty
        prompt TEXT NOT NULL,              -- JSON list of chat messages sent to the judge
        reply TEXT,                        -- the judge's raw reply
        reasoning TEXT,                    -- the reply without its grade line
        grade TEXT,                        -- the grade as parsed; NULL when unparsed
        score REAL,                        -- the grade's score in [0, 1]
        parsed INTEGER NOT NULL,           -- 0: the reply had no readable grade (never correct)
        problem TEXT,                      -- why the reply could not be read
        latency_ms REAL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        attempts INTEGER NOT NULL DEFAULT 1,
        error TEXT,                        -- the request failed after its retries
        error_kind TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (run_id, case_id, template, sample_index, scorer, judge, judge_sample, orientation)
    );
    CREATE INDEX IF NOT EXISTS judgements_sample ON judgements(run_id, case_id, template, sample_index);
    """,
    # 4 -> 5: full-text search over prompts and responses (FTS5, the table sqlite-utils'
    # enable_fts makes: samples_fts with content=[samples] keyed by rowid, which is samples.id, so
    # sqlite-utils' detect_fts/search and Datasette's search box find it).
    # Triggers keep it in step as samples are written; the update trigger fires only when the
    # indexed text changes (write_clusters updates every sample's cluster). Rows stored before
    # this step are indexed on demand, by the first search (search_index.built says whether).
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS samples_fts USING FTS5 ([prompt], [response], content=[samples]);
    CREATE TRIGGER IF NOT EXISTS samples_ai AFTER INSERT ON samples BEGIN
        INSERT INTO samples_fts (rowid, prompt, response) VALUES (new.id, new.prompt, new.response);
    END;
    CREATE TRIGGER IF NOT EXISTS samples_ad AFTER DELETE ON samples BEGIN
        INSERT INTO samples_fts (samples_fts, rowid, prompt, response)
        VALUES ('delete', old.id, old.prompt, old.response);
    END;
    CREATE TRIGGER IF NOT EXISTS samples_au AFTER UPDATE OF prompt, response ON samples BEGIN
        INSERT INTO samples_fts (samples_fts, rowid, prompt, response)
        VALUES ('delete', old.id, old.prompt, old.response);
        INSERT INTO samples_fts (rowid, prompt, response) VALUES (new.id, new.prompt, new.response);
    END;
    CREATE TABLE IF NOT EXISTS search_index (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        built INTEGER NOT NULL             -- 1 once every stored sample is in samples_fts
    );
    INSERT OR IGNORE INTO search_index (id, built) VALUES (1, (SELECT COUNT(*) = 0 FROM samples));
    """,
    # 5 -> 6: samples and judgements answered from the response cache (`run --cache`) are marked;
    # latency statistics leave them out (the latency is that of the request that was cached)
    """
    ALTER TABLE samples ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE judgements ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
    """,
    # 6 -> 7: provider batch jobs (`run --batch`). A batch row is written before its file is
    # uploaded and updated at each step, so a killed run resumes polling the same batch rather
    # than submitting its requests again.
    """
    CREATE TABLE IF NOT EXISTS batches (
        local_id TEXT PRIMARY KEY,         -- ours, also sent as the batch's metadata
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        provider TEXT NOT NULL,            -- openai
        base_url TEXT,
        input_file_id TEXT,
        batch_id TEXT,                     -- the provider's
        status TEXT NOT NULL,              -- preparing | uploaded | validating | in_progress | finalizing |
                                           -- completed | failed | expired | cancelling | cancelled
        n_requests INTEGER NOT NULL,
        counts TEXT,                       -- JSON request_counts as the provider last said
        output_file_id TEXT,
        error_file_id TEXT,
        errors TEXT,                       -- the provider's reason when the batch failed as a whole
        collected INTEGER NOT NULL DEFAULT 0,  -- 1 once its lines are stored as samples
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS batch_requests (
        local_id TEXT NOT NULL REFERENCES batches(local_id) ON DELETE CASCADE,
        custom_id TEXT NOT NULL,
        PRIMARY KEY (local_id, custom_id)
    );
    """,
    # 7 -> 8: named runs (`tuieval tag RUN production`) and the log of every tag change, so a
    # baseline that moved says when and from where. The log has no foreign key: it outlives runs.
    """
    CREATE TABLE IF NOT EXISTS tags (
        name TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        tagged_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS tag_events (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        action TEXT NOT NULL,              -- set | move | delete
        run_id TEXT,                       -- the run the tag points at afterwards (NULL after delete)
        previous_run_id TEXT,              -- the run it pointed at before (NULL for set)
        at TEXT NOT NULL
    );
    """,
    # 8 -> 9: red-team runs (tuieval.redteam): the attacker's rewrites of seed cases and each
    # target's answers and verdicts, linked to the target runs that hold the seed answers
    """
    CREATE TABLE IF NOT EXISTS redteams (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        suite_path TEXT,
        attacker TEXT NOT NULL,            -- the attacker model spec
        decider TEXT NOT NULL,             -- judge:SPEC or scorer:NAME (what says an answer is right)
        run_ids TEXT NOT NULL,             -- JSON list: one target run per --target, in order
        strategies TEXT NOT NULL,          -- JSON list
        tries INTEGER NOT NULL,
        budget INTEGER,                    -- requests (attacker + target + judge); NULL = no bound
        seed INTEGER NOT NULL,
        status TEXT NOT NULL,              -- running | complete | partial | failed
        config TEXT NOT NULL,              -- JSON: settings a resume needs
        pid INTEGER,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE IF NOT EXISTS redteam_attacks (
        redteam_id TEXT NOT NULL REFERENCES redteams(id) ON DELETE CASCADE,
        case_id TEXT NOT NULL,             -- the seed case
        strategy TEXT NOT NULL,
        try_index INTEGER NOT NULL,        -- 0..tries-1
        prompt TEXT NOT NULL,              -- JSON list of chat messages sent to the attacker
        reply TEXT,                        -- the attacker's raw reply
        turns TEXT,                        -- JSON list of the user turns the attack sends
        latency_ms REAL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        attempts INTEGER NOT NULL DEFAULT 1,
        error TEXT,
        error_kind TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (redteam_id, case_id, strategy, try_index)
    );
    CREATE TABLE IF NOT EXISTS redteam_answers (
        redteam_id TEXT NOT NULL REFERENCES redteams(id) ON DELETE CASCADE,
        run_id TEXT NOT NULL,              -- the target's run (its seed answers are samples there)
        case_id TEXT NOT NULL,
        strategy TEXT NOT NULL,
        try_index INTEGER NOT NULL,
        messages TEXT NOT NULL,            -- JSON: the conversation sent, the target's earlier replies in it
        response TEXT,                     -- the target's final answer
        target_requests INTEGER NOT NULL,  -- one per turn
        latency_ms REAL,
        attempts INTEGER NOT NULL DEFAULT 1,
        error TEXT,
        error_kind TEXT,
        correct INTEGER,                   -- NULL until decided; 0/1 after
        extracted TEXT,
        judgements TEXT,                   -- JSON list of the judge's replies, grades and votes
        judge_requests INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        decided_at TEXT,
        PRIMARY KEY (redteam_id, run_id, case_id, strategy, try_index)
    );
    """,
    # 9 -> 10: the paired comparison of two finished runs, so reopening it in the app is a read
    """
    CREATE TABLE IF NOT EXISTS comparisons (
        baseline TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        candidate TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,         -- both runs' report fingerprints and the test settings
        created_at TEXT NOT NULL,
        body TEXT NOT NULL,                -- the tuieval.compare/1 JSON
        PRIMARY KEY (baseline, candidate)
    );
    """,
    # 10 -> 11: contamination probe runs (tuieval.contamination): what the run measures, and the
    # corpus scan done before it started (it sends no request, so it has no samples)
    """
    CREATE TABLE IF NOT EXISTS contamination (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        settings TEXT NOT NULL,            -- JSON: probes, rewrite chain, template, prefix share, quantile, corpus
        ngram TEXT,                        -- JSON: the 13-gram corpus scan (hits: case id -> n-gram); NULL without it
        created_at TEXT NOT NULL
    );
    """,
    # 11 -> 12: shadow evaluations of logged traffic (tuieval shadow): the candidate run, the run
    # holding the baseline's answers (a model's, or the logged ones), and how the log was sampled
    """
    CREATE TABLE IF NOT EXISTS shadow_runs (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,   -- the candidate's run
        baseline_run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        baseline_kind TEXT NOT NULL,       -- logged (the log's responses) | model
        log_path TEXT NOT NULL,
        config TEXT NOT NULL,              -- JSON: budget, precision, alpha, gates, sampling, stop
        created_at TEXT NOT NULL
    );
    """,
    # 12 -> 13: what a run cost beyond its answers' plain tokens. Prompt tokens the provider
    # served from its prompt cache (OpenAI's prompt_tokens_details.cached_tokens, Anthropic's cache_read_input_tokens) and, for Anthropic,
    # those it wrote to it (cache_creation_input_tokens): each is part of input_tokens and is
    # priced at its own rate (tuieval.cost.prices); NULL: the server did not say. And the embedding
    # requests each computation of the report's clustering made, with their tokens; and the
    # red-team target answers' tokens (summed over an attack's turns), so attacks can be priced.
    """
    ALTER TABLE samples ADD COLUMN cached_tokens INTEGER;
    ALTER TABLE samples ADD COLUMN cache_write_tokens INTEGER;
    ALTER TABLE judgements ADD COLUMN cached_tokens INTEGER;
    ALTER TABLE judgements ADD COLUMN cache_write_tokens INTEGER;
    ALTER TABLE redteam_attacks ADD COLUMN cached_tokens INTEGER;
    ALTER TABLE redteam_answers ADD COLUMN input_tokens INTEGER;
    ALTER TABLE redteam_answers ADD COLUMN output_tokens INTEGER;
    ALTER TABLE redteam_answers ADD COLUMN cached_tokens INTEGER;
    CREATE TABLE IF NOT EXISTS embedding_usage (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        model TEXT NOT NULL,               -- the embeddings model spec (variance.model)
        purpose TEXT NOT NULL,             -- clustering | perturbations: what the report embedded for
        requests INTEGER NOT NULL,         -- HTTP requests sent (retries included)
        cached_requests INTEGER NOT NULL,  -- answered from the response cache (cost nothing)
        texts INTEGER NOT NULL,            -- distinct strings sent
        input_tokens INTEGER NOT NULL,     -- as the server counted them (usage.prompt_tokens)
        estimated_tokens INTEGER NOT NULL, -- of responses without usage: about four characters a token
        created_at TEXT NOT NULL
    );
    """,
    # 13 -> 14: a stored report read in parts (tuieval.store.report_parts). Its per-case list is
    # most of its bytes at scale, so it is kept one row per case: the scoreboard reads the rest of
    # the report without decoding it, and the cases view pages through it, worst first, in SQL.
    # The per-sample arrays the scoreboard's charts draw are kept beside it as packed numbers.
    """
    ALTER TABLE reports ADD COLUMN cases_apart INTEGER NOT NULL DEFAULT 0;  -- 1: body.cases is in report_cases
    CREATE TABLE IF NOT EXISTS report_cases (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,              -- the case's place in the report's cases list
        case_id TEXT NOT NULL,
        accuracy REAL,                     -- the worst-first sort keys (NULL: no figure, listed last)
        consistency REAL,
        body TEXT NOT NULL,                -- the case's entry of tuieval.report/1, JSON
        PRIMARY KEY (run_id, ord)
    );
    -- accuracy again at the end: counting the wrong cases and listing a slice's ids read the index only
    CREATE INDEX IF NOT EXISTS report_cases_worst
        ON report_cases(run_id, COALESCE(accuracy, 2.0), COALESCE(consistency, 2.0), case_id, accuracy);
    CREATE INDEX IF NOT EXISTS report_cases_id ON report_cases(run_id, case_id);
    -- reopening a run checks its report is current (samples, last sample id, errors): at a million
    -- samples each was a scan of the run's rows; with these the last id and the errors are lookups
    CREATE INDEX IF NOT EXISTS samples_run_id ON samples(run_id, id);
    CREATE INDEX IF NOT EXISTS samples_errors ON samples(run_id, error) WHERE error IS NOT NULL;
    CREATE TABLE IF NOT EXISTS report_arrays (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,         -- the report's: stale arrays are never read
        n INTEGER NOT NULL,                -- samples
        case_ids TEXT NOT NULL,            -- JSON list: the run's sampled case ids, sorted
        sample_case BLOB NOT NULL,         -- int32 per sample: index into case_ids
        latency BLOB NOT NULL,             -- float64 ms per sample, NaN when unknown or cached
        correct BLOB NOT NULL,             -- uint8 per sample (the sample rules applied)
        error BLOB NOT NULL                -- uint8 per sample
    );
    """,
    # 14 -> 15: Anthropic's prompt-cache writes by lifetime: of cache_write_tokens, those written
    # to the one-hour cache (usage.cache_creation.ephemeral_1h_input_tokens), priced at 2x input
    # against 1.25x for the five-minute writes; NULL: the server did not split them. And which
    # requests a provider batch holds: the run's answers, or its judges' requests (a judge batch
    # goes to the judge model's own provider, `model`), and which judgements were answered in a
    # batch (priced with the batch discount).
    """
    ALTER TABLE samples ADD COLUMN cache_write_1h_tokens INTEGER;
    ALTER TABLE judgements ADD COLUMN cache_write_1h_tokens INTEGER;
    ALTER TABLE batches ADD COLUMN purpose TEXT NOT NULL DEFAULT 'samples';  -- samples | judges
    ALTER TABLE batches ADD COLUMN model TEXT;                                -- the judge spec of a judge batch
    ALTER TABLE judgements ADD COLUMN batched INTEGER NOT NULL DEFAULT 0;     -- 1: answered in a provider batch
    """,
    # 15 -> 16: which cases are in which slice, kept with the report (tuieval.store.report_slices),
    # so the app reads a slice's cases instead of deriving every case's features again
    """
    CREATE TABLE IF NOT EXISTS report_slices (
        run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,         -- the report's: a stale membership is never read
        n_cases INTEGER NOT NULL,          -- bits per level: the run's sampled cases (report_arrays.case_ids)
        levels TEXT NOT NULL,              -- JSON list of [key, value]: the slice levels, in the order of bits
        bits BLOB NOT NULL                 -- per level ceil(n_cases / 8) bytes, bit i (most significant first) = case i
    );
    """,
    # 16 -> 17: the entailment judge's requests of a run's clustering (the `entailment` and
    # `hybrid` tiers), one row per computation, with their tokens, so the cost section prices them
    """
    CREATE TABLE IF NOT EXISTS clustering_judge_usage (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        model TEXT NOT NULL,                 -- the judge model spec (variance.judge)
        purpose TEXT NOT NULL,               -- clustering | perturbations | export | inspector | shadow
        requests INTEGER NOT NULL,           -- HTTP requests sent (retries included)
        cached_requests INTEGER NOT NULL,    -- answered from the response cache (cost nothing)
        input_tokens INTEGER NOT NULL,       -- as the server counted them (the whole prompt)
        cached_input_tokens INTEGER NOT NULL,  -- of those, read from the provider's prompt cache
        output_tokens INTEGER NOT NULL,
        estimated_input_tokens INTEGER NOT NULL,   -- of replies without counts: four characters a token
        estimated_output_tokens INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 17 -> 18: a writer storing many samples in one transaction (a run's batched commits, a bulk
    # write) indexes them for search by one INSERT … SELECT at the end of its block
    # (tuieval.store.db.indexed_in_one_statement) instead of a trigger program per row; while
    # its block runs, the one row of search_deferred (never committed: the block deletes it
    # before the transaction ends) tells the insert trigger to leave the rows to it.
    """
    CREATE TABLE IF NOT EXISTS search_deferred (
        id INTEGER PRIMARY KEY CHECK (id = 1)  -- present only inside a bulk writer's transaction
    );
    DROP TRIGGER IF EXISTS samples_ai;
    CREATE TRIGGER samples_ai AFTER INSERT ON samples WHEN NOT EXISTS (SELECT 1 FROM search_deferred) BEGIN
        INSERT INTO samples_fts (rowid, prompt, response) VALUES (new.id, new.prompt, new.response);
    END;
    """,
    # 18 -> 19: samples_run (run_id, case_id) is the first two columns of the samples' UNIQUE
    # (run_id, case_id, template, sample_index) index, which answers every query it answered with
    # the same search; each insert paid for both, and the extra one's pages (in case order, while a
    # run stores its samples in shuffled order) were a third of every batched commit's writes.
    """
    DROP INDEX IF EXISTS samples_run;
    """,
]
assert len(MIGRATIONS) == SCHEMA_VERSION


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; return the version it had before."""
    before = conn.execute("PRAGMA user_version").fetchone()[0]
    if before > SCHEMA_VERSION:
        raise RuntimeError(f"database schema version {before} is newer than this tuieval ({SCHEMA_VERSION})")
    if before == SCHEMA_VERSION:
        return before
    # Every pending step in one transaction (user_version is transactional): a crash
    # mid-migration leaves the version the file had intact, and a new database is made with one
    # commit instead of one per step (a tenth of a first run's start-up went to those commits).
    steps = "".join(MIGRATIONS[v] + f"; PRAGMA user_version = {v + 1};" for v in range(before, SCHEMA_VERSION))
    conn.executescript("BEGIN;" + steps + " COMMIT;")
    return before
