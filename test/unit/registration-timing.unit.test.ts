import { RegistrationAnswerTimes } from '../../api/members/registration-timing.ts';

test('before any recorded application of the party a refused one waits for nothing', () => {
  const times = new RegistrationAnswerTimes();
  times.recorded('party-b', 40);
  expect(times.refusedWait('party-a', 5)).toBe(0);
});

test("the first refused application is held to one of the party's recorded answer times, drawn at random, never answered sooner than it", () => {
  const waits = Array.from({ length: 300 }, () => {
    const times = new RegistrationAnswerTimes();
    for (const ms of [20, 30, 40]) times.recorded('party-a', ms);
    return times.refusedWait('party-a', 5);
  });
  expect(new Set(waits)).toEqual(new Set([15, 25, 35]));
  const times = new RegistrationAnswerTimes();
  times.recorded('party-a', 20);
  // Already slower than the recorded time: no wait added.
  expect(times.refusedWait('party-a', 50)).toBe(0);
});

test('refused answers take the recorded answers’ distribution: a fast refusal maps to a fast recorded time, a slow one to a slow one', () => {
  const times = new RegistrationAnswerTimes(64);
  for (let i = 0; i < 64; i++) times.recorded('party-a', 20 + i);   // recorded: 20..83 ms
  for (let i = 0; i < 64; i++) times.refusedWait('party-a', 5 + i / 8); // refused so far: 5..12.9 ms
  const answered = (own: number) => own + times.refusedWait('party-a', own);
  expect(answered(5)).toBeLessThan(30);   // the fastest refusal: among the fastest recorded
  expect(answered(13)).toBeGreaterThan(70); // the slowest: among the slowest recorded
  // Over many refusals drawn as before, the answers' median is the recorded median (about 51.5 ms).
  const answers = Array.from({ length: 2000 }, (_, i) => answered(5 + (i % 64) / 8)).sort((a, b) => a - b);
  expect(Math.abs(answers[1000]! - 51.5)).toBeLessThan(4);
});

test("it draws from the party's last answers only", () => {
  const times = new RegistrationAnswerTimes(4);
  for (let i = 0; i < 100; i++) times.recorded('party-a', 10);
  for (let i = 0; i < 4; i++) times.recorded('party-a', 1000);
  expect(new Set(Array.from({ length: 50 }, () => times.refusedWait('party-a', 0)))).toEqual(new Set([1000]));
});
