// The default clock: apps control time in their own tests with fake timers,
// usually installed after their stores opened.
import { KVStore, scache } from '../src';
import { tempDb } from './helpers';

afterEach(() => jest.useRealTimers());

it('follows fake timers installed after the store opened', () => {
  const store = new KVStore(tempDb());
  jest.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
  store.set('session', 'abc', 60);
  expect(store.ttl('session')).toBe(60);
  jest.setSystemTime(Date.UTC(2030, 0, 1) + 59_999);
  expect(store.get('session')).toBe('abc');
  jest.setSystemTime(Date.UTC(2030, 0, 1) + 60_000);
  expect(store.get('session')).toBeUndefined();
  expect(store.has('session')).toBe(false);
  store.close();
});

it('follows fake timers in scache entries too', () => {
  const store = new KVStore(tempDb());
  let calls = 0;
  const cached = scache({ store, ttl: 10 })(function answer() {
    return ++calls;
  });
  jest.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
  expect([cached(), cached()]).toEqual([1, 1]);
  jest.setSystemTime(Date.UTC(2030, 0, 1) + 10_000);
  expect(cached()).toBe(2);
  store.close();
});

it('comes back to real time when the fake timers go', () => {
  const store = new KVStore(tempDb());
  jest.useFakeTimers({ now: Date.UTC(2000, 0, 1) });
  store.set('k', 1, 60); // expires in 2000, as the fake clock said
  jest.useRealTimers();
  expect(store.get('k')).toBeUndefined();
  store.close();
});
