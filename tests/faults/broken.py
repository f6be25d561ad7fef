"""A workload that fails without any profiler: its row must say so, not blame profilers."""
# profbench: phases=work_a,work_b
import truth


def work_a():
    raise ValueError("broken on purpose")


if __name__ == "__main__":
    with truth.phase("work_a", work_a):
        work_a()
