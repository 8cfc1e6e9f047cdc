export function run(input) { return "hello " + input }
