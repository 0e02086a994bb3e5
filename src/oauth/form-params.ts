import { InvalidRequest } from './errors.js';

/**
 * The parameters of an application/x-www-form-urlencoded request. RFC 6749 §3.1: a parameter sent without a
 * value counts as absent, and none may appear twice (except those, like `resource`, defined to repeat).
 */
export class FormParams {
  private constructor(private readonly values: Map<string, string[]>) {}

  static parse(body: string): FormParams {
    const values = new Map<string, string[]>();
    for (const [name, value] of new URLSearchParams(body)) {
      if (value === '') continue;
      const list = values.get(name);
      if (list) list.push(value);
      else values.set(name, [value]);
    }
    return new FormParams(values);
  }

  static empty(): FormParams {
    return new FormParams(new Map());
  }

  /** The single value of `name`, or undefined; a repeated parameter is invalid_request. */
  get(name: string): string | undefined {
    const list = this.values.get(name);
    if (!list) return undefined;
    if (list.length > 1) throw new InvalidRequest(`${name} must not be repeated.`);
    return list[0];
  }

  require(name: string): string {
    const value = this.get(name);
    if (value === undefined) throw new InvalidRequest(`${name} is required.`);
    return value;
  }

  getAll(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }
}
