"""The tutorial's crawl on a Redis server: run it on every machine that helps.

    REDIS_URL=... python crawl_redis.py

The URL (with its password) comes from the environment, not the command
line: every user of the machine can read a process's arguments (``ps``).
"""

import multiprocessing
import os

from tastypy import RedisTracker


def fetch(url):
    """Stands in for a download: the links found on the page."""
    if url == 'site/2/2':
        raise OSError('connection reset')   # this page always fails
    return [f'{url}/{i}' for i in range(3)] if url.count('/') < 2 else []


def work(tracker):
    """One worker: take keys until none is left; return how many it did."""
    done = 0
    for url in tracker.try_keys():          # no two workers anywhere get the same url
        try:
            links = fetch(url)
        except OSError as error:
            tracker.update({url: {'error': str(error)}})
            continue
        tracker.add_many_if_absent(links)
        tracker.update({url: {'links': links}})
        tracker.mark_done(url)
        done += 1
    return done


if __name__ == '__main__':
    tracker = RedisTracker(os.environ['REDIS_URL'], 'crawl', max_tries=3)
    tracker.add_if_absent('site')
    with multiprocessing.Pool(4) as pool:
        done = sum(pool.map(work, [tracker] * 4))
    print(f'this machine did {done} pages')
    tracker.close()
