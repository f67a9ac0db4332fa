"""The offline quickstart's own problem family and the chain-of-thought solutions its tiny teacher learns."""
