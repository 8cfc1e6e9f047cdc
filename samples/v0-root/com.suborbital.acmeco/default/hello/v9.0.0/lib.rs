pub fn run(input: Vec<u8>) -> Vec<u8> { input }
