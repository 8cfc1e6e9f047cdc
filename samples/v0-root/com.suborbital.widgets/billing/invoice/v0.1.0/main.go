package main // invoice v0.1.0
