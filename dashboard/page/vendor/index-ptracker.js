'use strict';

var Plotly = require('./core');

Plotly.register([
    // traces (scatter is in the core)
    require('./bar'),
    require('./scattergl'),
]);

module.exports = Plotly;
