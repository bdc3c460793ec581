"""The tutorial's crawl, by a Pool of 4 processes sharing one SharedTracker."""

import multiprocessing
import sys

from tastypy import SharedTracker


def fetch(url):
    """Stands in for a download: the links found on the page."""
    if url == 'site/2/2':
        raise OSError('connection reset')   # this page always fails
    return [f'{url}/{i}' for i in range(3)] if url.count('/') < 2 else []


def work(tracker):
    """One worker: take keys until none is left; return how many it did."""
    done = 0
    for url in tracker.try_keys():          # no two workers get the same url
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
    folder = sys.argv[1] if len(sys.argv) > 1 else 'crawl.tracker'
    tracker = SharedTracker(folder, max_tries=3)
    tracker.add_if_absent('site')
    with multiprocessing.Pool(4) as pool:
        pool.map(work, [tracker] * 4)
    print(f'{tracker.num_done()} of {len(tracker)} pages done')
    print(f"site/2/2: {tracker['site/2/2']['error']}")
    tracker.close()
