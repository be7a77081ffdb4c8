/** A clock the test moves by hand: `clock.now` is in milliseconds, `set()`/`advance()` take seconds. */
export class FakeClock {
  now = 0;
  readonly read = (): number => this.now;

  set(seconds: number): void {
    this.now = seconds * 1000;
  }

  advance(seconds: number): void {
    this.now += seconds * 1000;
  }
}
