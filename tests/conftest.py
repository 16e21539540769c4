"""Test setup shared by every test: offline model hubs, one thread per library, CPU only."""

import os

# Never let a hub lookup hang or return an empty tokenizer: everything runs offline.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
