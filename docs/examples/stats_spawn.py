"""A SharedPOD handed to a spawn Pool's workers through its initializer."""

import multiprocessing

import tastypy

stats = None


def init(shared):
    global stats
    stats = shared


def task(word):
    stats.set['words'][word] = len(word)
    stats.set['count']['n'] += 1


if __name__ == '__main__':
    shared = tastypy.SharedPOD('stats.pod', init={'words': {}, 'count': {'n': 0}})
    ctx = multiprocessing.get_context('spawn')
    with ctx.Pool(4, initializer=init, initargs=(shared,)) as pool:
        pool.map(task, ['tasty', 'pie', 'persistent'])
    print(shared['count']['n'])
    shared.close()
