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
