"""Returns the values' mean (`math.fsum`): the crossing and one pass over the values."""

import math
from array import array

import wit_world


class WitWorld(wit_world.WitWorld):
    def floats(self, values):
        return math.fsum(values) / len(values)

    def bytes(self, values):
        numbers = array("d", values)
        return math.fsum(numbers) / len(numbers)
