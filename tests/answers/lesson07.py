"""Answer sets for lesson 07_capstone, graded by tiers (partial credit) rather than right or wrong.

Each maps the solution cell's grade_id to code; ``None`` in a code slot means "the reference solution". The round
trip (tests/test_capstone_lesson.py) checks the exact points each one earns, tier by tier.
"""

CELL = "capstone_system"

# A learner's own MiniLM exact search: valid and fast, but it *is* the first baseline, so it beats none of them.
MINILM = '''
def build_system(corpus):
    doc_ids, D = enc.encode_corpus(corpus)

    def search(queries):
        qids = list(queries)
        S = enc.encode([queries[q] for q in qids], show_progress=False) @ D.T
        top = np.argsort(-S, axis=1, kind="stable")[:, :100]
        return {q: {doc_ids[j]: float(S[i, j]) for j in top[i]} for i, q in enumerate(qids)}
    return search
'''

# The reference system, then waiting the dev budget in every search call: as good, but about 2.5 times the fused
# rerank's time, over the budget of 1.5 times.
SLOW_SUFFIX = '''

_reference_build = build_system


def build_system(corpus):
    search = _reference_build(corpus)

    def slow_search(queries):
        time.sleep(DEV_BUDGET_MS / 1000)
        return search(queries)
    return slow_search
'''

# The reference system with one stray document id (not in the corpus) appended to one query's list, at the bottom:
# the ranking is untouched, so only the validity points go.
MALFORMED_SUFFIX = '''

_reference_build = build_system


def build_system(corpus):
    search = _reference_build(corpus)
    calls = []

    def sloppy_search(queries):
        run = search(queries)
        calls.append(1)
        if len(calls) == 3:
            q = next(iter(run))
            run[q]["a-document-that-is-not-in-the-corpus"] = -1e9
        return run
    return sloppy_search
'''

# Delegation: the course's own fused rerank handed in as the learner's system.
DELEGATE = '''
def build_system(corpus):
    return capstone.FUSED(corpus)
'''

# Reaching for the judgements from a child process, only when graded for real (the rehearsal sees the embedded corpus,
# and gets an honest MiniLM search): the child tries every way a kernel could (the instructor's folder named in the
# environment, the grader's own loader, the embedded held-out split through the library, with and without the task
# variable), and if any works, the system ranks each query's relevant documents first. Under the
# course's autograde the judgements are not in the kernel, the sandbox hides their folders, the variables are gone,
# and the process itself is recorded as reaching for them: 0 points.
CHILD = '''
import json, os, subprocess, sys, tempfile

_CHILD = r"""
import json, os, sys
out = {}


def from_instructor():
    from asymkit import data
    corpus, queries, qrels = data.load_beir(os.environ["ASYMKIT_CAPSTONE_BEIR"],
                                            split=os.environ.get("ASYMKIT_CAPSTONE_SPLIT", "test"))
    return corpus, queries, qrels


def from_grader():
    from asymkit import capstone
    held = capstone.load()
    return held.corpus, held.queries, held.qrels


def from_library():
    from asymkit import data
    return data.load_heldout()


def untasked():
    os.environ.pop("ASYMKIT_CAPSTONE_TASK", None)
    return from_library()


for attempt in (from_instructor, from_grader, from_library, untasked):
    try:
        corpus, queries, qrels = attempt()
    except Exception:
        continue
    out = {queries[q]: sorted(corpus[d]["text"] for d, r in rels.items() if r > 0 and d in corpus)
           for q, rels in qrels.items() if q in queries}
    break
json.dump(out, open(sys.argv[1], "w"))
"""


def build_system(corpus):
    doc_ids, D = enc.encode_corpus(corpus)
    answers = {}
    if len(corpus) != len(ds.corpus):              # not the rehearsal (which sees the embedded corpus): cheat now
        path = tempfile.mktemp(suffix=".json")
        subprocess.run([sys.executable, "-c", _CHILD, path], check=False, capture_output=True, timeout=600)
        answers = json.load(open(path)) if os.path.exists(path) else {}
    by_text = {}
    for d, doc in corpus.items():
        by_text.setdefault(doc["text"], d)

    def search(queries):
        qids = list(queries)
        S = enc.encode([queries[q] for q in qids], show_progress=False) @ D.T
        run = {}
        for i, q in enumerate(qids):
            wanted = [by_text[t] for t in answers.get(queries[q], []) if t in by_text]
            ranked = wanted + [doc_ids[j] for j in np.argsort(-S[i], kind="stable")[:100] if doc_ids[j] not in wanted]
            run[q] = {d: float(200 - r) for r, d in enumerate(ranked[:100])}
        return run
    return search
'''

# Row numbers instead of document ids: not one valid document in the run. Fast, but nothing to time: 0 points.
ROW_NUMBERS = '''
def build_system(corpus):
    doc_ids, D = enc.encode_corpus(corpus)

    def search(queries):
        qids = list(queries)
        S = enc.encode([queries[q] for q in qids], show_progress=False) @ D.T
        top = np.argsort(-S, axis=1, kind="stable")[:, :100]
        return {q: {str(j): float(S[i, j]) for j in top[i]} for i, q in enumerate(qids)}
    return search
'''
