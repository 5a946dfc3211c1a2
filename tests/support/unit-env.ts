// Unit tests run without services; modules that read token config at load time need a key.
process.env.JWT_KEYS ??= `unit:${'k'.repeat(40)}`;
