"""A tiny workload for the harness's own tests: two phases of pure-Python work, ~0.2 s."""
# profbench: phases=work_a,work_b
import truth


def work_a():
    return sum(i * i for i in range(300_000))


def work_b():
    return sum(i * i for i in range(150_000))


if __name__ == "__main__":
    with truth.phase("work_a", work_a):
        work_a()
    with truth.phase("work_b", work_b):
        work_b()
    print("tiny done")
