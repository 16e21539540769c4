"""The sample library: short lectures and a meeting made here from slides and espeak-ng speech, with
QA files whose answers are known to the second.

It serves `vidrag demo`, the tests, the notebooks and the benchmarks, and sits beside the five layers
rather than in them: only the CLI imports it (an import-linter contract in pyproject.toml says so).
`content` holds the words (slides, narration, questions) as text; `library` renders the videos.
"""
