"""Library workload: axis 3 of the article (library transparency).

Runs the two library functions the article names, json.loads() and pandas.read_csv(), on
inputs generated before each phase starts (~0.5 s each on the reference machine). A profiler
passes when it shows frames inside the standard library (json) and inside pandas.
"""
# profbench: default
# profbench: phases=json_loads,pandas_read_csv
# profbench: library=parse_json:json.loads
# profbench: library=read_csv:pandas.read_csv
import json
import os
import random
import tempfile

import pandas as pd

try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

JSON_RECORDS = 60000   # ~13 MB of JSON
CSV_ROWS = 10**6       # ~67 MB of CSV
BLOCK = 1000           # inputs repeat a block of distinct records (fast to generate)
CITIES = ["Tokyo", "Osaka", "Nagoya", "Sapporo", "Fukuoka"]


def make_json_document(records=JSON_RECORDS):
    """A JSON array of nested records (not timed)."""
    block = [
        {
            "id": i,
            "name": f"user_{i}",
            "email": f"user{i}@example.com",
            "score": round(i * 0.37, 2),
            "active": i % 3 == 0,
            "tags": ["a", "bb", "ccc", str(i)],
            "address": {"city": CITIES[i % 5], "zip": f"{i:07d}", "lines": ["1-2-3", "Chiyoda"]},
        }
        for i in range(BLOCK)
    ]
    body = json.dumps(block)[1:-1]
    return "[" + ",".join([body] * (records // BLOCK)) + "]"


def make_csv_file(rows=CSV_ROWS):
    """A CSV file of mixed columns in the temp folder (not timed). Returns its path."""
    rnd = random.Random(0)
    block = "".join(
        f"{i},user_{i},{rnd.random():.6f},{rnd.gauss(0, 1):.6f},{i * 7919 % 1000},{CITIES[i % 5]},"
        f"2020-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d},{i % 2 == 0}\n"
        for i in range(10 * BLOCK)
    )
    fd, path = tempfile.mkstemp(prefix="profbench-", suffix=".csv")
    with os.fdopen(fd, "w") as f:
        f.write("id,name,x,y,count,city,date,flag\n")
        for _ in range(rows // (10 * BLOCK)):
            f.write(block)
    return path


def parse_json(text):
    """Standard library: json.loads of a large document."""
    return json.loads(text)


def read_csv(path):
    """External library: pandas.read_csv of a large file."""
    return pd.read_csv(path)


def main():
    print("--- Start Library Test ---")

    document = make_json_document()
    print("Running: json.loads...")
    with truth.phase("json_loads", parse_json):
        records = parse_json(document)
    print(f"  {len(records)} records")
    del document, records

    path = make_csv_file()
    try:
        print("Running: pandas.read_csv...")
        with truth.phase("pandas_read_csv", read_csv):
            frame = read_csv(path)
        print(f"  {len(frame)} rows")
    finally:
        os.unlink(path)

    print("--- End Library Test ---")


if __name__ == "__main__":
    main()
