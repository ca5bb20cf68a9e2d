#!/usr/bin/python3
"""The unigram baseline of next-byte prediction on a text file, to compare with a trained
gpt-tiny's test loss (issue 18: the trained model must beat it visibly).

The file is split by position as `hesse --data text:FILE` splits it: the first 90 % train, the
last 10 % test. The baseline predicts every byte by the training bytes' frequencies, with
add-one smoothing over the 256 byte values (so that a byte unseen in training has a finite
loss):  p(b) = (count_train(b) + 1) / (n_train + 256).  It prints, as JSON, the mean
cross-entropy in nats of the test bytes under p (the loss a model that ignores the context can
reach), the same on the training bytes, and ln 256 (a uniform guess).

    /usr/bin/python3 examples/reproduce/unigram_baseline.py FILE [--test-fraction 0.1]

FILE may be a directory (the fortunes corpus, /usr/share/games/fortunes for text:fortunes): it is
read as hesse reads it, its regular files (links followed) sorted by name, less hidden files, the
strfile indexes *.dat and files already read under another name (NAME.u8 -> NAME), concatenated.
"""
import argparse
import json
import math
import os
import sys


def read_text(path):
    """A file's bytes, or a directory's files concatenated as hesse's text: data reads them."""
    if not os.path.isdir(path):
        with open(path, "rb") as f:
            return f.read()
    seen, parts = set(), []
    for name in sorted(os.listdir(path), key=os.fsencode):
        full = os.path.join(path, name)
        if name.startswith(".") or name.endswith(".dat") or not os.path.isfile(full):
            continue
        st = os.stat(full)
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        with open(full, "rb") as f:
            parts.append(f.read())
    return b"".join(parts)


def baseline(data, test_fraction):
    split = len(data) - int(len(data) * test_fraction)
    train, test = data[:split], data[split:]
    if not train or not test:
        raise ValueError("the file is too short to split (%d bytes)" % len(data))
    counts = [0] * 256
    for b in train:
        counts[b] += 1
    logp = [math.log((c + 1) / (len(train) + 256)) for c in counts]
    return {"train_bytes": len(train), "test_bytes": len(test),
            "unigram_train_loss": -sum(logp[b] for b in train) / len(train),
            "unigram_test_loss": -sum(logp[b] for b in test) / len(test),
            "uniform_loss": math.log(256)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--test-fraction", type=float, default=0.1)
    a = ap.parse_args(argv)
    try:
        result = baseline(read_text(a.file), a.test_fraction)
    except (OSError, ValueError) as e:
        print("unigram_baseline: %s: %s" % (a.file, e), file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
