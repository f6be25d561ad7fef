"""Line-level workload: axis 4 of the article, literally.

mixed_lines() holds a light line (a = 1) and a heavy line (sum(range(10**7))) in one
function; a line-level profiler must put nearly all of its time on the heavy line. The heavy
line is one long C call, so in-process samplers that can only run between bytecodes show
their safepoint bias here. light_loop() is a pure-Python loop of similar length, a second
phase so that the share of time between phases means something.
"""
# profbench: default
# profbench: quick=status
# profbench: phases=mixed_lines,light_loop
# profbench: heavy-line=mixed_lines:sum(range(10**7))
# profbench: light-line=mixed_lines:a = 1
try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

MIXED_REPEAT = 3           # ~0.35 s per call on the reference machine
LIGHT_ITERATIONS = 12 * 10**6


def mixed_lines():
    """Light and heavy lines in one function."""
    a = 1                  # light
    b = sum(range(10**7))  # heavy
    c = a + 1              # light
    return b + c


def light_loop(iterations=LIGHT_ITERATIONS):
    """Many cheap bytecodes spread evenly over a pure-Python loop."""
    total = 0
    for i in range(iterations):
        total += i & 7
    return total


def main():
    print("--- Start Line Test ---")

    print("Running: Mixed Lines...")
    with truth.phase("mixed_lines", mixed_lines):
        for _ in range(MIXED_REPEAT):
            mixed_lines()

    print("Running: Light Loop...")
    with truth.phase("light_loop", light_loop):
        light_loop()

    print("--- End Line Test ---")


if __name__ == "__main__":
    main()
