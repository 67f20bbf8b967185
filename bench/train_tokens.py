"""Writes the token file the training benches share (bench/train.sh, bench/loaded.sh): English-like bytes from a
seeded generator, as int32 (the model's vocab is bytes + specials). Usage: python bench/train_tokens.py OUT"""
import random
import sys

import numpy as np

r = random.Random(0)
words = "the of and to in is was for on that with as by at from his her this which or an be are it not have".split()
text = " ".join(r.choice(words) + ("." if r.random() < 0.08 else "") for _ in range(400000))
np.frombuffer(text.encode(), dtype=np.uint8).astype(np.int32).tofile(sys.argv[1])
