import json
import textwrap
from collections import Counter

import pytest

from asymkit import data


def write_module(folder, rel, source):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def src_tree(tmp_path):
    root = tmp_path / "src"
    write_module(root, "pkg/__init__.py", '''
        """Tools for counting the widgets in a frobnicator.

        The frobnicator keeps its widgets in a ring buffer that is drained
        whenever the operator presses the big red button twice.
        """
    ''')
    write_module(root, "pkg/mod.py", '''
        class Widget:
            """A widget with a colour and a weight in grams.

            Widgets compare equal when both their colour and weight match,
            which makes them usable as dictionary keys in the inventory.
            """

            def paint(self, colour):
                """Paint the widget in a new colour now.

                The old colour is lost forever, so call save() first when the
                customer might change their mind about the new colour later.
                """

            def short(self):
                """Too short.

                Body is long enough to pass the body filter of the harvest rules.
                """

        def paint(x):
            """paint(x) -> None

            This summary is only a signature so the harvester must skip this one.
            """

        def duplicate():
            """A widget with a colour and a weight in grams.

            Same summary as Widget, different body: the first in name order wins.
            """

        def no_body():
            """Only a summary line here, nothing else at all."""
    ''')
    write_module(root, "pkg/tests/test_x.py", '''
        def test_thing():
            """A test docstring that must never be harvested.

            Test folders are skipped entirely because they hold no documentation.
            """
    ''')
    write_module(root, "pkg/broken.py", "def f(:\n    pass\n")
    return root


def test_iter_docstrings_follows_nesting_and_skips_tests_and_broken_files(src_tree):
    names = dict(data.iter_docstrings(src_tree))
    assert "pkg" in names and "pkg.mod.Widget.paint" in names
    assert not any("test" in n for n in names)
    assert "pkg.broken" not in names


def test_docstrings_parsed_in_subprocesses_match_one_process_in_order(src_tree, monkeypatch):
    for i in range(7):                                      # enough files that every worker gets several
        write_module(src_tree, f"pkg/extra{i}.py", f'''
            def f{i}():
                """Function number {i} of the extra modules.

                It has a body paragraph long enough to be kept by the harvest rules.
                """
        ''')
    jobs = data._source_files(src_tree)
    serial = list(data._docstrings(jobs, workers=1))
    assert len(serial) >= 10 and serial == list(data.iter_docstrings(src_tree, workers=1))
    for workers in (2, 3):
        assert list(data._docstrings(jobs, workers=workers)) == serial, f"{workers} workers: same docstrings, same order"
    monkeypatch.setattr(data, "_WORKER_CODE", "import sys; sys.exit(3)")
    with pytest.warns(UserWarning, match="exit status 3"):
        assert list(data._docstrings(jobs, workers=2)) == serial, "a failed worker's files are parsed here instead"
    monkeypatch.setattr(data.sys, "executable", str(src_tree / "no-such-python"))
    with pytest.warns(UserWarning, match="subprocess failed"):
        assert list(data._docstrings(jobs, workers=2)) == serial
    with pytest.raises(ValueError, match="positive integer"):
        list(data._docstrings(jobs, workers=0))


def test_docstring_pairs_rules(src_tree):
    pairs = {p.qualname: p for p in data.docstring_pairs(data.iter_docstrings(src_tree))}
    assert set(pairs) == {"pkg", "pkg.mod.Widget", "pkg.mod.Widget.paint"}
    widget = pairs["pkg.mod.Widget"]
    assert widget.summary == "A widget with a colour and a weight in grams."
    assert widget.body.startswith("Widgets compare equal")


def test_dataset_from_pairs_is_beir_shaped_and_split_by_name(src_tree):
    pairs = data.docstring_pairs(data.iter_docstrings(src_tree))
    ds = data.dataset_from_pairs("toy", pairs)
    assert set(ds.corpus) == {p.qualname for p in pairs}
    for split in (*data.SPLITS, data.HELDOUT):
        queries, qrels = ds.split(split)
        assert set(queries) == set(qrels)
        for q, rels in qrels.items():
            assert rels == {q: 1} and data.split_of(q) == split
    assert sum(len(ds.queries[s]) for s in (*data.SPLITS, data.HELDOUT)) == len(pairs)
    with pytest.raises(ValueError, match="no items"):
        data.dataset_from_pairs("empty", [])
    with pytest.raises(ValueError, match="split 'val'"):
        ds.split("val")


def test_split_is_deterministic_and_roughly_50_10_20_20():
    names = [f"mod{i}.func{i * 7}" for i in range(5000)]
    first = [data.split_of(n) for n in names]
    assert first == [data.split_of(n) for n in reversed(names)][::-1]
    counts = Counter(first)
    assert set(counts) == {"train", data.HELDOUT, "dev", "test"}
    assert abs(counts["train"] / 5000 - 0.5) < 0.03
    assert abs(counts[data.HELDOUT] / 5000 - 0.1) < 0.02
    assert abs(counts["dev"] / 5000 - 0.2) < 0.03
    assert abs(counts["test"] / 5000 - 0.2) < 0.03


@pytest.fixture(scope="module")
def stdlib_cache(tmp_path_factory):
    """One cache folder, built once, for the tests of this module that only read the embedded dataset."""
    folder = tmp_path_factory.mktemp("stdlib-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASYMKIT_CACHE", str(folder))
        data.load_stdlib(fast=False)
    return folder


@pytest.fixture
def stdlib(stdlib_cache, monkeypatch):
    monkeypatch.setenv("ASYMKIT_CACHE", str(stdlib_cache))
    return data.load_stdlib(fast=False)


def test_stdlib_dataset_is_real_and_disjoint(stdlib):
    sizes = stdlib.sizes()
    assert sizes["corpus"] > 1000 and sizes["test queries"] > 200
    splits = [set(stdlib.queries[s]) for s in data.SPLITS]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    assert data.HELDOUT not in stdlib.queries and data.HELDOUT not in stdlib.qrels, "no lesson sees the held-out split"
    _, held_queries, held_qrels = data.load_heldout(fast=False)
    assert len(held_queries) > 150 and not set(held_queries) & set().union(*splits)
    data.check_qrels(held_qrels, stdlib.corpus)
    assert sum(map(len, splits)) + len(held_queries) == len(stdlib.corpus)  # one relevant document per query
    for s in data.SPLITS:
        data.check_qrels(stdlib.qrels[s], stdlib.corpus)
    root = data.stdlib_root()
    for q in list(stdlib.queries["test"])[:100]:  # ids are qualified names of real stdlib modules
        top = q.split(".")[0]
        assert (root / top).is_dir() or (root / f"{top}.py").exists(), q


def test_stdlib_cache_round_trip_and_corrupt_cache_is_rebuilt(stdlib, tmp_cache):
    built = data.load_stdlib(fast=False)                  # built afresh in this test's own empty cache
    again = data.load_stdlib(fast=False)                  # and read back from it
    assert built.corpus == again.corpus == stdlib.corpus and again.qrels == stdlib.qrels and again.queries == stdlib.queries
    folder = tmp_cache / "datasets" / stdlib.name
    corpus_file = folder / "corpus.jsonl"
    corpus_file.write_text(corpus_file.read_text()[:1000])  # truncated by a crash
    with pytest.warns(UserWarning, match="unreadable"):
        rebuilt = data.load_stdlib(fast=False)
    assert rebuilt.corpus == stdlib.corpus
    (folder / "manifest.json").write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable"):
        assert data.load_stdlib(fast=False).qrels == stdlib.qrels


def test_heldout_split_has_its_own_folder_and_a_corrupt_one_is_rebuilt(stdlib, tmp_cache):
    corpus, queries, qrels = data.load_heldout(fast=False)
    lesson_folder = tmp_cache / "datasets" / stdlib.name
    held_folder = data._heldout_folder()
    assert held_folder.parent == lesson_folder.parent and held_folder != lesson_folder
    assert not set(queries) & {q for line in (lesson_folder / "queries.jsonl").read_text().splitlines()
                               for q in [json.loads(line)["_id"]]}, "the lessons' cache holds no held-out query"
    assert not (held_folder / "corpus.jsonl").exists()
    (held_folder / "qrels" / f"{data.HELDOUT}.tsv").write_text("q\td\t1\n")          # tampered with
    with pytest.warns(UserWarning, match="held-out cache .* unreadable"):
        again = data.load_heldout(fast=False)
    assert again == (corpus, queries, qrels)
    fast_corpus, fast_queries, fast_qrels = data.load_heldout(fast=True)
    assert fast_queries == queries and fast_qrels == qrels, "fast mode grades on the same held-out queries"
    assert set(data.load_stdlib(fast=True).corpus) < set(fast_corpus) < set(corpus)
    data.check_qrels(fast_qrels, fast_corpus)


def test_fast_subset_is_a_consistent_quarter(stdlib, tmp_cache):
    fast = data.load_stdlib(fast=True)
    assert 0.15 < len(fast.corpus) / len(stdlib.corpus) < 0.35
    for s in data.SPLITS:
        assert set(fast.queries[s]) <= set(stdlib.queries[s])
        data.check_qrels(fast.qrels[s], fast.corpus)


# --------------------------------------------------------------------------- BEIR folders

@pytest.fixture
def beir_folder(tmp_path):
    corpus = {"d1": {"title": "Paris", "text": "Paris is the capital of France."},
              "d2": {"title": "", "text": "The Eiffel Tower is in Paris."}}
    queries = {"q1": "capital of France", "q2": "where is the Eiffel Tower", "q3": "unjudged"}
    qrels = {"test": {"q1": {"d1": 1}, "q2": {"d2": 2, "d1": 0}}, "dev": {"q1": {"d1": 1}}}
    return data.write_beir(tmp_path / "beir", corpus, queries, qrels)


def test_load_beir_round_trip(beir_folder):
    corpus, queries, qrels = data.load_beir(beir_folder, "test")
    assert corpus["d1"] == {"title": "Paris", "text": "Paris is the capital of France."}
    assert queries == {"q1": "capital of France", "q2": "where is the Eiffel Tower"}
    assert qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d1": 0}}
    assert data.doc_text(corpus["d1"]) == "Paris Paris is the capital of France."
    assert data.doc_text(corpus["d2"]) == "The Eiffel Tower is in Paris."


def test_qrels_without_header(beir_folder):
    (beir_folder / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    assert data.load_beir(beir_folder)[2] == {"q1": {"d1": 1}}


def test_write_beir_never_overwrites(beir_folder):
    before = (beir_folder / "corpus.jsonl").read_text()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        data.write_beir(beir_folder, {"x": {"text": "y"}}, {"q": "z"}, {"test": {"q": {"x": 1}}})
    assert (beir_folder / "corpus.jsonl").read_text() == before


def test_missing_folder_and_files(tmp_path, beir_folder):
    with pytest.raises(FileNotFoundError, match="does not exist: download"):
        data.load_beir(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"splits found .*\['dev', 'test'\]"):
        data.load_beir(beir_folder, "train")
    (beir_folder / "queries.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="queries.jsonl is missing"):
        data.load_beir(beir_folder)


@pytest.mark.parametrize("filename, content, message", [
    ("corpus.jsonl", '{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n', r"corpus.jsonl:2 is not valid JSON"),
    ("corpus.jsonl", '{"text": "no id"}\n', r"corpus.jsonl:1 has no \"_id\""),
    ("corpus.jsonl", '{"_id": "d1"}\n', r"corpus.jsonl:1 has no string \"text\""),
    ("corpus.jsonl", "", r"holds no documents"),
    ("queries.jsonl", '{"_id": "q1", "text": 3}\n', r"queries.jsonl:1 has no string \"text\""),
    ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\n", r"test.tsv:2 has 2 tab-separated fields"),
    ("qrels/test.tsv", "q1\td1\thigh\n", r"test.tsv:1 has score 'high'"),
    ("qrels/test.tsv", "q1\td9\t1\n", r"names 1 documents that are not in the corpus"),
    ("qrels/test.tsv", "q9\td1\t1\n", r"judges 1 queries missing from queries.jsonl"),
])
def test_malformed_files_are_named(beir_folder, filename, content, message):
    (beir_folder / filename).write_text(content)
    with pytest.raises(ValueError, match=message):
        data.load_beir(beir_folder, "test")


def test_check_qrels_errors():
    with pytest.raises(ValueError, match="empty"):
        data.check_qrels({}, {"d": {"text": "x"}})
    with pytest.raises(ValueError, match=r"not in the corpus \(e.g. \['zz'\]\)"):
        data.check_qrels({"q": {"zz": 1}}, {"d": {"text": "x"}})


def test_manifest_lists_sizes(stdlib, stdlib_cache):
    manifest = json.loads((stdlib_cache / "datasets" / stdlib.name / "manifest.json").read_text())
    assert manifest["sizes"] == stdlib.sizes()


# --------------------------------------------------------------------------- the passage pool

@pytest.fixture
def fake_purelib(tmp_path, monkeypatch, tmp_cache):
    root = tmp_path / "site-packages"
    write_module(root, "lib/a.py", '''
        def f():
            """Compute the thing.

            This paragraph has enough words to be kept as one real passage of text.

            >>> f()
            42

            Another paragraph that is long enough to be kept in the passage pool.
            """

        def g():
            """Too short.

            This paragraph has enough words to be kept as one real passage of text.
            """
    ''')
    monkeypatch.setattr(data.sysconfig, "get_paths", lambda: {"purelib": str(root), "stdlib": str(root)})
    return root


def test_passage_pool_rules(fake_purelib):
    with pytest.warns(UserWarning, match="only 2 passages"):
        pool = data.passage_pool(10)
    assert sorted(pool.values()) == [
        "Another paragraph that is long enough to be kept in the passage pool.",
        "This paragraph has enough words to be kept as one real passage of text.",
    ]  # the duplicate is kept once; "Compute the thing." is too short; doctest lines are dropped
    assert all(pid.startswith("p:") and len(pid) == 14 for pid in pool)
    assert list(pool) == sorted(pool)  # ordered by hash: the first n are a deterministic sample


def test_passage_pool_exclude_limit_and_cache(fake_purelib, tmp_cache):
    with pytest.warns(UserWarning, match="only 1 passages are available"):
        # a paragraph of an excluded text is excluded, whatever its whitespace
        pool = data.passage_pool(5, exclude=["A summary.\n\nAnother   paragraph that is long enough\nto be kept in "
                                             "the passage pool.\n\nMore."])
    assert list(pool.values()) == ["This paragraph has enough words to be kept as one real passage of text."]
    assert len(data.passage_pool(1)) == 1
    (cached,) = (tmp_cache / "datasets").glob("passages-*.jsonl")
    cached.write_text('{"_id": "p:x", "text": "ok"}\n{broken')
    with pytest.warns(UserWarning, match="unreadable"):
        assert len(data.passage_pool(2)) == 2
    with pytest.raises(ValueError, match="positive integer"):
        data.passage_pool(0)


# --------------------------------------------------------------------------- training pairs

def test_training_pairs_drop_duplicates_of_the_embedded_dataset(tmp_path, monkeypatch, tmp_cache):
    root = tmp_path / "site-packages"
    write_module(root, "pkg/m.py", '''
        def vendored():
            """A widget with a colour and a weight in grams.

            A vendored copy of an embedded docstring: it must never be a training pair.
            """

        def own():
            """Compute the area of a polygon from its vertices.

            The vertices are given in order; the shoelace formula sums the cross products.
            """
    ''')
    monkeypatch.setattr(data.sysconfig, "get_paths", lambda: {"purelib": str(root), "stdlib": str(root)})
    monkeypatch.setattr(data, "TRAINING_PACKAGES", ("pkg", "not_installed"))
    embedded = data.RetrievalDataset("toy", {"x": {"title": "", "text": "Some body."}},
                                     {"test": {"x": "A widget with a colour and a weight in grams."}}, {"test": {"x": {"x": 1}}})
    with pytest.warns(UserWarning, match="only 2 training pairs"):
        everything = data.training_pairs(10)
    assert [p.qualname for p in everything] == sorted(["pkg.m.vendored", "pkg.m.own"],
                                                      key=lambda n: data.hashlib.sha1(n.encode()).hexdigest())
    with pytest.warns(UserWarning, match="only 1 training pairs"):
        kept = data.training_pairs(10, exclude=embedded)
    assert [p.qualname for p in kept] == ["pkg.m.own"]


def test_one_parse_of_site_packages_serves_the_passage_pool_and_the_training_pairs(tmp_path, monkeypatch, tmp_cache):
    root = tmp_path / "site-packages"
    write_module(root, "pkg/m.py", '''
        def own():
            """Compute the area of a polygon from its vertices.

            The vertices are given in order; the shoelace formula sums the cross products of them.
            """
    ''')
    write_module(root, "other/n.py", '''
        def f():
            """Open the file.

            A paragraph from a package that is not a training package, long enough to be a passage.
            """
    ''')
    monkeypatch.setattr(data.sysconfig, "get_paths", lambda: {"purelib": str(root), "stdlib": str(root)})
    monkeypatch.setattr(data, "TRAINING_PACKAGES", ("pkg",))
    with pytest.warns(UserWarning, match="only 3 passages"):
        pool = data.passage_pool(10)
    texts = " ".join(pool.values())
    assert "shoelace" in texts and "not a training package" in texts     # passages come from every package

    def no_second_parse(*args, **kwargs):
        raise AssertionError("site-packages was parsed a second time")

    monkeypatch.setattr(data, "iter_docstrings", no_second_parse)
    monkeypatch.setattr(data, "_docstrings", no_second_parse)
    with pytest.warns(UserWarning, match="only 1 training pairs"):
        pairs = data.training_pairs(5)
    assert [p.qualname for p in pairs] == ["pkg.m.own"]       # pairs only from the training packages
