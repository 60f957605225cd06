// One colour per class, the same in every panel (golden-angle hues).

export function classHue(index) {
  return (index * 137.508) % 360;
}

export function classColour(index, strength = 1) {
  return `hsla(${classHue(index).toFixed(1)}, 75%, 42%, ${strength.toFixed(3)})`;
}
