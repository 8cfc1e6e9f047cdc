package main // invoice v0.2.0
